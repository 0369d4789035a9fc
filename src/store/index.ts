export { openDatabase } from './open.js';
export type { Db } from './db.js';
export { SCHEMA_VERSION } from './schema.js';
export { schemaVersionOf, upgradeSchema } from './migrate.js';
export { acquireWriterLock, liveLockHolder, DatabaseBusyError, type LockHolder } from './lock.js';
export { recordJob, type JobRecord, type RunRecord } from './record.js';
export { RunWriter, type CommittedRange, type ResumeState, type RunShape, type ShardResult } from './runWriter.js';
export * from './queries.js';
