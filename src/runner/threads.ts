import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { requestedPositions, type JobSpec } from '../job/spec.js';

/**
 * Positions a thread should have before another one is started: a thread's start
 * (Node, the worker module, WebAssembly tier-up, the trace tables, cold JIT)
 * costs about as much CPU as computing 1,000 positions, and the main thread
 * needs a core too. On this 2-core machine the Q1 job (1,023 positions) took
 * 0.88× the wall time and 0.79× the CPU on one thread as on two; two 1 KiB
 * windows 0.94×; four, 1.04× (two threads ahead).
 */
export const POSITIONS_PER_THREAD = 2048;

/** Worker threads by default: one per core, and one per POSITIONS_PER_THREAD of the job's `positions` (at least one). */
export function defaultThreads(positions = Infinity): number {
  return Math.max(1, Math.min(availableParallelism(), Math.floor(positions / POSITIONS_PER_THREAD)));
}

/** The default threads for a job: by its positions, from its data files' sizes (one per core when a file cannot be read; the job's expansion then says why). */
export function threadsForJob(spec: JobSpec): number {
  let positions: number;
  try {
    positions = requestedPositions(spec, (path) => statSync(path).size);
  } catch {
    positions = Infinity;
  }
  return defaultThreads(positions);
}
