export * from './spec.js';
export { expandJob, runIdentity, type ExpandedJob, type PlannedRun } from './expand.js';
export { loadJobFile, defaultJob, DEFAULT_DB } from './file.js';
