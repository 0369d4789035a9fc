import { channel } from 'node:diagnostics_channel';

/**
 * Where a queue worker stands in a batch, published synchronously on its main
 * thread for whoever listens (nothing of sparsetrace does): the fault tests
 * freeze a worker at these points to kill it there (test/hold-worker.ts).
 */
export interface WorkerMilestone {
  readonly point: 'shard-committed' | 'segment-written';
  readonly batch: string;
  /** Shards committed in this batch so far. */
  readonly shards: number;
  readonly log: (line: string) => void;
}

/** The diagnostics channel of WorkerMilestone. */
export const WORKER_MILESTONES = 'sparsetrace:worker';

const milestones = channel(WORKER_MILESTONES);

/** Publishes a milestone, only built when someone listens. */
export function workerMilestone(make: () => WorkerMilestone): void {
  if (milestones.hasSubscribers) milestones.publish(make());
}
