/**
 * The fault tests' hook, loaded into a worker process with `--import` (never by
 * sparsetrace itself): SPARSETRACE_TEST_HOLD=mid-batch|after-segment freezes the
 * worker's main thread (timers, lock renewals, signals and all) at that point of
 * its first batch, for SPARSETRACE_TEST_HOLD_MS (default 60 s) or until killed,
 * so that a test can kill a worker exactly there. It listens to the worker's
 * milestones (src/queue/worker.ts) on their diagnostics channel.
 */
import { subscribe } from 'node:diagnostics_channel';
import { isMainThread } from 'node:worker_threads';
import { WORKER_MILESTONES, type WorkerMilestone } from '../src/queue/milestones.js';

const where = process.env.SPARSETRACE_TEST_HOLD;
const ms = Number(process.env.SPARSETRACE_TEST_HOLD_MS ?? 60_000);
let held = false;

function hold(log: (line: string) => void, at: string): void {
  held = true;
  log(`holding ${at} (test hook)`);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

if (isMainThread && (where === 'mid-batch' || where === 'after-segment')) {
  subscribe(WORKER_MILESTONES, (message) => {
    const milestone = message as WorkerMilestone;
    if (held) return;
    if (where === 'mid-batch' && milestone.point === 'shard-committed' && milestone.shards === 2) hold(milestone.log, `in batch ${milestone.batch}`);
    if (where === 'after-segment' && milestone.point === 'segment-written') hold(milestone.log, `after writing the segment of batch ${milestone.batch}`);
  });
}
