import { Queue } from 'bullmq';
import { randomBytes } from 'node:crypto';
import { renameSync, rmSync } from 'node:fs';
import type { ExpandedJob } from '../job/index.js';
import { formatDuration } from '../runner/duration.js';
import { jobRunStates, mergeSegment, SegmentError, type Db, type RunRecord } from '../store/index.js';
import { batchId, planBatches, type BatchData } from './batches.js';
import { connectionOptions, type QueueAddress } from './connection.js';
import { BATCH_JOB_OPTIONS } from './protocol.js';
import { printable } from './names.js';
import { listSegments } from './segments.js';

export interface CoordinatorOptions {
  readonly address: QueueAddress;
  readonly queueName: string;
  readonly segments: string;
  /** Position-steps per batch (see batches.ts). */
  readonly batchCost: number;
  /** How often to look at the queue and the segments folder. */
  readonly pollMs: number;
  /** Reconciliation rounds (re-enqueues of missing runs) allowed before giving up. */
  readonly maxRounds: number;
  readonly stopSignal: AbortSignal;
  readonly log: (line: string) => void;
}

export type CoordinatorOutcome = { readonly kind: 'done' } | { readonly kind: 'stopped' } | { readonly kind: 'gave-up'; readonly missing: number; readonly reasons: string[] };

/** The states in which a batch is still going to be computed. */
const LIVE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'paused', 'waiting-children'] as const;

/** Batches added per addBulk call. */
const ADD_CHUNK = 200;

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });

/**
 * Coordinates a job over the queue until every run is done in `db`. Its state is
 * `db` alone: what is missing is what `db` does not hold as done. It enqueues the
 * missing runs in batches (ids: hashes of their run ids, so a restarted
 * coordinator does not add them twice), merges every segment that appears in the
 * folder (then deletes it), and when the queue holds nothing live while runs are
 * still missing — jobs lost with Redis, failed, or completed without a segment —
 * enqueues those runs again under new ids (a reconciliation round).
 */
export async function coordinate(db: Db, jobId: number, job: ExpandedJob, options: CoordinatorOptions): Promise<CoordinatorOutcome> {
  const { log, stopSignal } = options;
  const records = new Map<string, RunRecord>(job.runs.map((run) => [run.runId, run]));
  const session = randomBytes(6).toString('hex');
  const queue = new Queue<BatchData>(options.queueName, { connection: connectionOptions(options.address, false) });
  let lastQueueError = '';
  queue.on('error', (error) => {
    if (error.message !== lastQueueError) log(`queue: ${error.message}`);
    lastQueueError = error.message;
  });

  const missingRuns = (): RunRecord[] =>
    jobRunStates(db, jobId)
      .filter((state) => state.status !== 'done')
      .map((state) => {
        const record = records.get(state.run_id);
        if (record === undefined) throw new Error(`run ${state.run_id} of job ${jobId} is not in the job's expansion`);
        // The database's setting wins: recordJob keeps an existing run as it was.
        return { ...record, depthCurves: state.depth_curves === 1 };
      });

  const enqueue = async (runs: RunRecord[], salt: string): Promise<number> => {
    const batches = planBatches(runs, options.batchCost);
    // A few hundred batches per round trip: one huge MULTI would stall Redis.
    for (let first = 0; first < batches.length; first += ADD_CHUNK) {
      await queue.addBulk(
        batches.slice(first, first + ADD_CHUNK).map((batch) => ({
          name: 'batch',
          data: { format: 'sparsetrace-batch/1', runs: batch },
          opts: { ...BATCH_JOB_OPTIONS, jobId: batchId(batch.map((run) => run.runId), salt) },
        })),
      );
    }
    return batches.length;
  };

  const totalRuns = job.runs.length;
  const totalPositions = job.runs.reduce((sum, run) => sum + run.positions, 0);
  const started = performance.now();
  let mergedPositions = 0;
  let mergeSeconds = 0;
  let lastProgress = 0;

  /** Merges every whole segment in the folder; returns how many there were. */
  const mergeWaiting = (): number => {
    const segments = listSegments(options.segments);
    for (const path of segments) {
      const mergeStarted = performance.now();
      try {
        const result = mergeSegment(db, path);
        const seconds = (performance.now() - mergeStarted) / 1000;
        mergeSeconds += seconds;
        mergedPositions += result.positions;
        log(
          `merged ${path}: ${result.merged.length} runs, ${result.positions} positions in ${seconds.toFixed(3)} s` +
            (result.alreadyDone.length > 0 ? `; ${result.alreadyDone.length} runs already done (a batch computed twice), ignored` : '') +
            (result.unfinished.length > 0 ? `; ${result.unfinished.length} unfinished runs ignored` : ''),
        );
        rmSync(path, { force: true });
      } catch (error) {
        if (!(error instanceof SegmentError)) throw error;
        log(`${error.message}; set aside as ${path}.rejected`);
        renameSync(path, `${path}.rejected`);
      }
    }
    return segments.length;
  };

  const progress = (missing: readonly RunRecord[], counts: Record<string, number> | undefined): void => {
    const done = totalRuns - missing.length;
    const elapsed = (performance.now() - started) / 1000;
    const rate = mergedPositions / Math.max(elapsed, 1e-3);
    const left = missing.reduce((sum, run) => sum + run.positions, 0);
    const queueText = counts === undefined ? 'queue unreachable' : `queue: ${counts.waiting + counts.prioritized + counts.delayed} waiting, ${counts.active} active`;
    log(
      `${done}/${totalRuns} runs done, ${totalPositions - left}/${totalPositions} positions; ` +
        `${Math.round(rate)} positions/s over ${formatDuration(elapsed)}, ETA ${rate > 0 ? formatDuration(left / rate) : '?'}; ${queueText}`,
    );
  };

  try {
    // Segments finished while no coordinator ran are merged first, so they are not enqueued again.
    mergeWaiting();
    let missing = missingRuns();
    if (missing.length === 0) return { kind: 'done' };
    // Batches of an earlier coordinator that no worker has taken are replaced by this one's.
    await queue.drain(true);
    const batches = await enqueue(missing, '');
    log(`enqueued ${missing.length} runs in ${batches} batches on queue ${options.queueName} at ${options.address.display}`);
    let round = 0;
    let idlePolls = 0;
    while (!stopSignal.aborted) {
      await sleep(options.pollMs, stopSignal);
      if (stopSignal.aborted) break;
      // Counts first, then the folder: a batch completed before the counts were read has its segment there already.
      let counts: Record<string, number> | undefined;
      try {
        counts = await queue.getJobCounts(...LIVE_STATES);
      } catch {
        counts = undefined;
      }
      const merged = mergeWaiting();
      const live = counts === undefined ? undefined : LIVE_STATES.reduce((sum, state) => sum + (counts[state] ?? 0), 0);
      // Reading every run's status costs a query over the job: only after a merge, or when the queue looks idle.
      if (merged > 0 || live === 0) missing = missingRuns();
      const now = performance.now();
      if (merged > 0 || now - lastProgress > 10_000) {
        progress(missing, counts);
        lastProgress = now;
      }
      if (missing.length === 0) {
        log(`all ${totalRuns} runs done; merged ${mergedPositions} positions in ${mergeSeconds.toFixed(2)} s of merging (${Math.round(mergedPositions / Math.max(mergeSeconds, 1e-6))} positions/s)`);
        return { kind: 'done' };
      }
      idlePolls = live === 0 && merged === 0 ? idlePolls + 1 : 0;
      if (idlePolls < 2) continue;
      idlePolls = 0;
      if (round >= options.maxRounds) {
        const failed = await queue.getFailed(0, 4).catch(() => []);
        // Read from Redis: shown quoted and on one line, whatever wrote them.
        return { kind: 'gave-up', missing: missing.length, reasons: failed.map((failedJob) => `batch ${printable(failedJob.id)}: ${printable(failedJob.failedReason)}`) };
      }
      round++;
      const count = await enqueue(missing, `${session}-${round}`).catch((error: Error) => {
        log(`queue: cannot enqueue: ${error.message}`);
        return 0;
      });
      if (count > 0) log(`queue ran dry with ${missing.length} runs missing: re-enqueued them in ${count} batches (reconciliation round ${round} of at most ${options.maxRounds})`);
      else round--;
    }
    return { kind: 'stopped' };
  } finally {
    // Closing says goodbye to Redis, which may be down: not for longer than a few seconds.
    await Promise.race([queue.close().catch(() => undefined), new Promise((done) => setTimeout(done, 3000).unref())]);
  }
}
