import type { WorkflowStatus } from './status.ts';

export interface WorkflowHandle<O> {
  readonly id: string;
  /** the workflow's output; rejects with its own error, WorkflowCancelledError or MaxRecoveryAttemptsError */
  result(): Promise<O>;
  status(): Promise<WorkflowStatus | null>;
}

/** What a handle needs from whoever made it (a Skein, later a Client). */
export interface HandleSource {
  awaitResult<O>(id: string): Promise<O>;
  getStatus(id: string): Promise<WorkflowStatus | null>;
}

export class Handle<O> implements WorkflowHandle<O> {
  readonly id: string;
  readonly #source: HandleSource;

  constructor(id: string, source: HandleSource) {
    this.id = id;
    this.#source = source;
  }

  result(): Promise<O> {
    return this.#source.awaitResult<O>(this.id);
  }

  status(): Promise<WorkflowStatus | null> {
    return this.#source.getStatus(this.id);
  }
}
