import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { InputError } from '../errors.js';
import { DEFAULT_DMAX, DEFAULT_LENGTH, DEFAULT_TAUS, parseJob, type JobSpec } from './spec.js';

/** Where results go unless a job file or --db says otherwise (relative to the working directory). */
export const DEFAULT_DB = 'results/sparsetrace.sqlite';

/** Where the default job expects the inputs, and `fetch-inputs` puts them (relative to the working directory). */
export const DEFAULT_INPUTS_DIR = 'inputs';

/** Reads and validates a job file; its relative paths are taken from the file's folder. */
export function loadJobFile(path: string): JobSpec {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputError(`job file ${path}: cannot read: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new InputError(`job file ${path}: not valid JSON: ${(error as Error).message}`);
  }
  const folder = dirname(resolve(path));
  return parseJob(raw, `job file ${path}`, (relative) => resolve(folder, relative));
}

/** The published Q1 job with the inputs where `sparsetrace fetch-inputs` puts them. */
export function defaultJob(): JobSpec {
  return {
    name: 'q1-sparsity',
    models: [resolve('inputs/sat_model.bin')],
    data: [{ path: resolve('inputs/enwik_1024.txt'), offset: 0, length: DEFAULT_LENGTH, stride: DEFAULT_LENGTH, count: 1 }],
    dmax: [DEFAULT_DMAX],
    tau: [...DEFAULT_TAUS],
  };
}
