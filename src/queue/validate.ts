import { isRuleName, ruleChoices } from '../engine/computation.js';
import { RefusedBatchError } from '../errors.js';
import { MAX_DMAX, MAX_TAUS } from '../job/spec.js';
import type { RunRecord } from '../store/index.js';
import { BATCH_FORMAT, type BatchData } from './batches.js';
import { inputPathProblem, nameProblem, printable } from './names.js';

/** A batch as the worker may use it: its id a plain name, every run's fields of the right kind. */
export interface CheckedBatch {
  readonly id: string;
  /** The coordinator's job (sha256), written into the segment. */
  readonly job: string;
  readonly runs: readonly RunRecord[];
}

/** Runs per batch at most: far above what `serve` makes (a few dozen), a bound on what a message may ask for. */
const MAX_RUNS = 100_000;

const HEX64 = /^[0-9a-f]{64}$/;

/** runIdentity's form (src/job/expand.ts). */
const RUN_ID = /^[0-9a-f]{16}$/;

/**
 * Checks a batch taken from the queue before any of it is used, above all as a
 * path: whoever can write to Redis can write a batch, and its id names the
 * worker's files. A bad batch fails (RefusedBatchError: the queue does not retry
 * it) with the reason, and nothing of it touches the disk.
 */
export function checkBatch(id: unknown, data: unknown): CheckedBatch {
  const idProblem = nameProblem(id);
  if (idProblem !== undefined) throw new RefusedBatchError(`refused a batch whose id ${idProblem}: not computed (is something else writing to this queue?)`);
  const batchId = id as string;
  const fail = (problem: string): never => {
    throw new RefusedBatchError(`batch ${batchId}: refused: ${problem} (written by another sparsetrace version, or not by sparsetrace?)`);
  };
  if (typeof data !== 'object' || data === null) return fail('its data is not an object');
  const batch = data as Partial<BatchData>;
  if (batch.format !== BATCH_FORMAT) return fail(`unknown format ${printable(batch.format)}, expected ${BATCH_FORMAT}`);
  if (typeof batch.job !== 'string' || !HEX64.test(batch.job)) return fail(`"job" ${printable(batch.job)} is not a job's sha256 in hex`);
  if (!Array.isArray(batch.runs) || batch.runs.length === 0 || batch.runs.length > MAX_RUNS) return fail(`"runs" is not a list of 1 to ${MAX_RUNS} runs`);
  batch.runs.forEach((run: unknown, k) => checkRun(run, `runs[${k}]`, fail));
  return { id: batchId, job: batch.job, runs: batch.runs };
}

function checkRun(value: unknown, at: string, fail: (problem: string) => never): void {
  if (typeof value !== 'object' || value === null) fail(`${at} is not an object`);
  const run = value as Record<string, unknown>;
  const model = (run.model ?? {}) as Record<string, unknown>;
  const data = (run.data ?? {}) as Record<string, unknown>;
  const significant = (model.significant ?? {}) as Record<string, unknown>;
  const integer = (field: string, v: unknown, min: number, max: number): void => {
    if (!(Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max)) fail(`${at}.${field} ${printable(v)} is not an integer from ${min} to ${max}`);
  };
  // The identity itself is recomputed from the fields by the worker; here only its form.
  if (typeof run.runId !== 'string' || !RUN_ID.test(run.runId)) fail(`${at}.runId ${printable(run.runId)} is not a run id (16 hex digits)`);
  for (const [field, v] of [['model.sha256', model.sha256], ['data.sha256', data.sha256]] as const) {
    if (typeof v !== 'string' || !HEX64.test(v)) fail(`${at}.${field} ${printable(v)} is not a sha256 in hex`);
  }
  for (const [field, v] of [['model.path', model.path], ['data.path', data.path]] as const) {
    const problem = inputPathProblem(v);
    if (problem !== undefined) fail(`${at}.${field} ${problem}`);
  }
  integer('model.hidden', model.hidden, 1, 1 << 20);
  for (const key of ['wx', 'wh', 'wy', 'total'] as const) integer(`model.significant.${key}`, significant[key], 0, Number.MAX_SAFE_INTEGER);
  integer('data.offset', data.offset, 0, Number.MAX_SAFE_INTEGER);
  integer('data.length', data.length, 2, Number.MAX_SAFE_INTEGER);
  // A burn-in reads the bytes before the window: at most its offset (absent: 0, as batches before burn-ins were).
  if (data.burnIn !== undefined) integer('data.burnIn', data.burnIn, 0, typeof data.offset === 'number' ? data.offset : 0);
  integer('dmax', run.dmax, 0, MAX_DMAX);
  integer('positions', run.positions, 1, Number.MAX_SAFE_INTEGER);
  if (typeof run.gate !== 'number' || !Number.isFinite(run.gate)) fail(`${at}.gate ${printable(run.gate)} is not a number`);
  if (!isRuleName(run.rule)) fail(`${at}.rule ${printable(run.rule)} is not an attribution rule this sparsetrace computes (${ruleChoices()})`);
  if (!Array.isArray(run.taus) || run.taus.length === 0 || run.taus.length > MAX_TAUS || !run.taus.every((tau) => typeof tau === 'number' && Number.isFinite(tau))) {
    fail(`${at}.taus is not a list of 1 to ${MAX_TAUS} numbers`);
  }
  if (typeof run.depthCurves !== 'boolean') fail(`${at}.depthCurves ${printable(run.depthCurves)} is not true or false`);
  if (run.keep !== undefined && run.keep !== 'full' && run.keep !== 'summaries') fail(`${at}.keep ${printable(run.keep)} is not "full" or "summaries"`);
}
