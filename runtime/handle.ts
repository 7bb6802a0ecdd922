import type { WorkflowStatus } from './status.ts';

export interface WorkflowHandle<O> {
  readonly id: string;
  /**
   * The workflow's output; rejects with its own error, WorkflowCancelledError or
   * MaxRecoveryAttemptsError. With `timeoutMs`, a TimeoutError when it has not finished by
   * then (it goes on running).
   */
  result(opts?: { timeoutMs?: number | undefined }): Promise<O>;
  status(): Promise<WorkflowStatus | null>;
}

/** What a handle needs from whoever made it (a Skein, later a Client). */
export interface HandleSource {
  awaitResult<O>(id: string, opts?: { timeoutMs?: number | undefined }): Promise<O>;
  getStatus(id: string): Promise<WorkflowStatus | null>;
}

export class Handle<O> implements WorkflowHandle<O> {
  readonly id: string;
  readonly #source: HandleSource;

  constructor(id: string, source: HandleSource) {
    this.id = id;
    this.#source = source;
  }

  result(opts?: { timeoutMs?: number | undefined }): Promise<O> {
    return this.#source.awaitResult<O>(this.id, opts);
  }

  status(): Promise<WorkflowStatus | null> {
    return this.#source.getStatus(this.id);
  }
}
