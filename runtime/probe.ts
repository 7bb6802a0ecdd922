// A test's watch on one workflow's runs (skein/testing, everyCrashPoint): told when each step's
// function begins and when its record commits, and able to end the thread at either point, as
// a crash there would. Only a run being watched costs a message more per step (RunTask.probe).

export interface Probe {
  /** an attempt of step `stepId`'s function begins */
  began(stepId: number, name: string): void;
  /** the step's function is done and its checkpoint not sent: true ends the thread now */
  ran(stepId: number, name: string): boolean;
  /** step `stepId` committed: true ends the thread before the workflow hears of it */
  recorded(stepId: number): boolean;
}
