import { join, resolve } from 'node:path';

/** Tests run from the project root (`npm test`); shared material sits beside it. */
export const PROJECT_ROOT = process.cwd();
export const SHARED = resolve(PROJECT_ROOT, '..', 'shared');
export const SHARED_MODEL = join(SHARED, 'inputs', 'sat_model.bin');
export const SHARED_DATA = join(SHARED, 'inputs', 'enwik_1024.txt');
export const REFERENCE_JSON = join(SHARED, 'reference', 'q1-sat_model-enwik_1024.json');
export const REFERENCE_POSITIONS = join(SHARED, 'reference', 'q1-sat_model-enwik_1024.positions.tsv');
