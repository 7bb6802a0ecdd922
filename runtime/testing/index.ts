// skein/testing: what users' own tests need to prove their workflows crash-safe (README,
// "Testing your workflows"). A second entry point of the package, so none of it loads in a
// service that only runs workflows.
export { database, type TestDatabase, type TestDatabaseOptions } from './database.ts';
export {
  everyCrashPoint,
  CrashPointError,
  type CrashPoint,
  type CrashPointOptions,
  type CrashPointReport,
  type CrashPointResult,
  type CrashWhere,
} from './crash-points.ts';
export { replayCheck, ReplayDivergence, type ReplayReport } from './replay.ts';
export { clock, type AdvanceOptions, type TestClock, type TestClockOptions } from './clock.ts';
