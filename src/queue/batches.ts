import { createHash } from 'node:crypto';
import type { RunRecord } from '../store/index.js';

/** The format of a batch (BatchData.format); a worker refuses any other. */
export const BATCH_FORMAT = 'sparsetrace-batch/2';

/** A batch as it travels through the queue: the coordinator's job and the runs' records, plain JSON. */
export interface BatchData {
  /** Format of this object, so a worker of another version refuses it clearly. */
  readonly format: typeof BATCH_FORMAT;
  /** The coordinator's job (its sha256): the worker writes it into the segment, the coordinator merges only its own. */
  readonly job: string;
  readonly runs: readonly RunRecord[];
}

/** Work of a run in position-steps: positions × (Dmax + 1), what its trace costs. */
export function runCost(run: Pick<RunRecord, 'positions' | 'dmax'>): number {
  return run.positions * (run.dmax + 1);
}

/**
 * Cuts runs into batches of one model each, in order, closing a batch when its
 * cost reaches `budget` (position-steps); a run costlier than the budget is a
 * batch of its own.
 */
export function planBatches(runs: readonly RunRecord[], budget: number): RunRecord[][] {
  const batches: RunRecord[][] = [];
  const open = new Map<string, { runs: RunRecord[]; cost: number }>();
  for (const run of runs) {
    let current = open.get(run.model.sha256);
    if (current === undefined) {
      current = { runs: [], cost: 0 };
      open.set(run.model.sha256, current);
      batches.push(current.runs);
    }
    current.runs.push(run);
    current.cost += runCost(run);
    if (current.cost >= budget) open.delete(run.model.sha256);
  }
  return batches.filter((batch) => batch.length > 0);
}

/**
 * The queue job id of a batch: a hash of its run ids (and of `salt`, for a batch
 * re-enqueued by reconciliation, which must not collide with an id BullMQ has
 * seen). Hex only: BullMQ ids must not contain ':'.
 */
export function batchId(runIds: readonly string[], salt = ''): string {
  return `b${createHash('sha256').update(`${salt}\n${runIds.join('\n')}`).digest('hex').slice(0, 24)}`;
}
