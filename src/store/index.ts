export { openDatabase, type Db } from './open.js';
export { SCHEMA_VERSION } from './schema.js';
export { acquireWriterLock, liveLockHolder, DatabaseBusyError, type LockHolder } from './lock.js';
export { committedRanges, finishRun, recordJob, runStatus, shardWriter, storedPeakFactors, type CommittedRange, type JobRecord, type RunRecord } from './writes.js';
export * from './queries.js';
