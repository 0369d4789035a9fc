import { Queue } from 'bullmq';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { basename } from 'node:path';
import type { ExpandedJob } from '../job/index.js';
import { formatDuration } from '../runner/duration.js';
import { inspectSegment, jobRunStates, mergeSegment, SegmentError, type Db, type RunRecord } from '../store/index.js';
import { BATCH_FORMAT, batchId, planBatches, type BatchData } from './batches.js';
import { connectionOptions, type QueueAddress } from './connection.js';
import { BATCH_JOB_OPTIONS } from './protocol.js';
import { printable } from './names.js';
import { batchOfSegmentName, listSegments, REJECTED_FOLDER, setAside } from './segments.js';

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

/** What became of a segment found in the folder. */
type SegmentFate = 'merged' | 'rejected' | 'left';

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
 *
 * Only segments made for this job and queue are merged (their identity table,
 * written by the worker), and only whole: every run of the batch in it, done
 * and complete. A segment of another job or queue is left where it is for its
 * own coordinator (said once); one that is damaged, incomplete, or not a
 * segment at all is set aside in `rejected/` with its reason, and its batch's
 * runs are enqueued again at once (when the batch is this coordinator's).
 */
export async function coordinate(db: Db, jobId: number, job: ExpandedJob, options: CoordinatorOptions): Promise<CoordinatorOutcome> {
  const { log, stopSignal, queueName } = options;
  const records = new Map<string, RunRecord>(job.runs.map((run) => [run.runId, run]));
  const session = randomBytes(6).toString('hex');
  const queue = new Queue<BatchData>(queueName, { connection: connectionOptions(options.address, false) });
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
        // The database's settings win: recordJob keeps an existing run as it was, and a segment must hold what it keeps.
        return { ...record, depthCurves: state.depth_curves === 1, keep: state.keep };
      });

  /** This coordinator's batches: their runs, so that a rejected segment's batch can be enqueued again. */
  const batchRuns = new Map<string, readonly string[]>();
  const enqueue = async (runs: RunRecord[], salt: string): Promise<number> => {
    const batches = planBatches(runs, options.batchCost);
    // A few hundred batches per round trip: one huge MULTI would stall Redis.
    for (let first = 0; first < batches.length; first += ADD_CHUNK) {
      const chunk = batches.slice(first, first + ADD_CHUNK).map((batch) => ({ id: batchId(batch.map((run) => run.runId), salt), runs: batch }));
      await queue.addBulk(
        chunk.map((batch) => ({
          name: 'batch',
          data: { format: BATCH_FORMAT, job: job.sha256, runs: batch.runs },
          opts: { ...BATCH_JOB_OPTIONS, jobId: batch.id },
        })),
      );
      for (const batch of chunk) batchRuns.set(batch.id, batch.runs.map((run) => run.runId));
    }
    return batches.length;
  };

  const totalRuns = job.runs.length;
  const totalPositions = job.runs.reduce((sum, run) => sum + run.positions, 0);
  const started = performance.now();
  let mergedPositions = 0;
  let mergeSeconds = 0;
  let lastProgress = 0;

  /** Segments left in the folder (another coordinator's, or not movable): said once, then not looked at again. */
  const leftAlone = new Set<string>();
  /** How often each run was enqueued again because its segment was rejected: bounded like reconciliation rounds. */
  const requeues = new Map<string, number>();
  let rejectedCount = 0;
  let requeueCount = 0;

  /** Why a readable segment is not this coordinator's to merge ('foreign'), or what is wrong with it, or undefined when it is whole and ours. */
  const judge = (path: string): { readonly fate: 'foreign' | 'bad'; readonly reason: string; readonly batch?: string } | undefined => {
    const inspection = inspectSegment(path);
    if (inspection.kind === 'unusable') return { fate: 'bad', reason: inspection.reason, batch: batchOfSegmentName(basename(path)) };
    const { identity, runs } = inspection;
    if (identity.jobSha256 !== job.sha256 || identity.queue !== queueName) {
      return {
        fate: 'foreign',
        reason:
          `made for job ${printable(identity.jobSha256.slice(0, 12))} on queue ${printable(identity.queue)} (by worker ${printable(identity.worker)}), ` +
          `not for this serve's job ${job.sha256.slice(0, 12)} on queue ${printable(queueName)}`,
      };
    }
    const batch = identity.batch;
    const named = batchOfSegmentName(basename(path));
    if (named !== batch) return { fate: 'bad', reason: `its name says batch ${printable(named)}, its identity batch ${printable(batch)}` };
    if (identity.runIds.length === 0) return { fate: 'bad', reason: `batch ${printable(batch)}: its identity lists no runs`, batch };
    for (const runId of identity.runIds) {
      if (!records.has(runId)) return { fate: 'bad', reason: `batch ${printable(batch)}: run ${printable(runId)} is not a run of this job`, batch };
      const status = runs.get(runId);
      if (status !== 'done') return { fate: 'bad', reason: `batch ${printable(batch)} is incomplete: run ${runId} is ${status === undefined ? 'not in it' : `${status}, not done`}`, batch };
    }
    const listed = new Set(identity.runIds);
    const extra = [...runs.keys()].find((runId) => !listed.has(runId));
    if (extra !== undefined) return { fate: 'bad', reason: `batch ${printable(batch)}: it holds run ${printable(extra)}, which the batch did not ask for`, batch };
    return undefined;
  };

  /** Sets a segment aside in rejected/, says so in one line, and enqueues its batch's missing runs again. */
  const reject = async (path: string, reason: string, batch: string | undefined): Promise<SegmentFate> => {
    const where = `${options.segments}/${REJECTED_FOLDER}/`;
    try {
      // Gone meanwhile: not ours to judge (another serve sharing the folder took its own).
      if (setAside(options.segments, path, reason) === undefined) return 'left';
    } catch (error) {
      leftAlone.add(path);
      log(`segment ${path}: ${reason}; not merged, and it cannot be set aside in ${where} (${(error as Error).message}): move or delete it`);
      return 'left';
    }
    rejectedCount++;
    const runIds = batch === undefined ? undefined : batchRuns.get(batch);
    if (runIds === undefined) {
      log(`segment ${path}: ${reason}; set aside in ${where} (not merged; its runs are enqueued again if the queue runs dry without them)`);
      return 'rejected';
    }
    const wanted = new Set(runIds.filter((runId) => (requeues.get(runId) ?? 0) < Math.max(options.maxRounds, 1)));
    const again = missingRuns().filter((run) => wanted.has(run.runId));
    for (const run of again) requeues.set(run.runId, (requeues.get(run.runId) ?? 0) + 1);
    const count = again.length === 0 ? 0 : await enqueue(again, `${session}-r${++requeueCount}`).catch((error: Error) => {
      log(`queue: cannot enqueue: ${error.message}`);
      return 0;
    });
    log(
      `segment ${path}: ${reason}; set aside in ${where} (not merged; ` +
        (count > 0 ? `its ${again.length} runs not done here are enqueued again)` : 'its runs are enqueued again if the queue runs dry without them)'),
    );
    return 'rejected';
  };

  const mergeOne = async (path: string): Promise<SegmentFate> => {
    const verdict = judge(path);
    // Gone while being read: another serve sharing the folder merged its own.
    if (verdict?.fate === 'bad' && !existsSync(path)) return 'left';
    if (verdict?.fate === 'foreign') {
      leftAlone.add(path);
      log(`segment ${path}: ${verdict.reason}; left where it is for its own serve (give each serve a --segments folder of its own)`);
      return 'left';
    }
    if (verdict !== undefined) return reject(path, verdict.reason, verdict.batch);
    const mergeStarted = performance.now();
    let result;
    try {
      result = mergeSegment(db, path);
    } catch (error) {
      if (!(error instanceof SegmentError)) throw error;
      // The message without the file's name and its "not merged", which the line about setting it aside says.
      return reject(path, error.message.replace(`segment ${path}: `, '').replace(/; not merged$/, ''), batchOfSegmentName(basename(path)));
    }
    const seconds = (performance.now() - mergeStarted) / 1000;
    mergeSeconds += seconds;
    mergedPositions += result.positions;
    log(
      `merged ${path}: ${result.merged.length} runs, ${result.positions} positions in ${seconds.toFixed(3)} s` +
        (result.alreadyDone.length > 0 ? `; ${result.alreadyDone.length} runs already done (a batch computed twice), ignored` : ''),
    );
    rmSync(path, { force: true });
    return 'merged';
  };

  /** Merges (or sets aside) every whole segment in the folder; returns how many there were, those left alone apart. */
  const mergeWaiting = async (): Promise<number> => {
    let handled = 0;
    for (const path of listSegments(options.segments)) {
      if (leftAlone.has(path)) continue;
      if ((await mergeOne(path)) !== 'left') handled++;
    }
    return handled;
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
    await mergeWaiting();
    let missing = missingRuns();
    if (missing.length === 0) return { kind: 'done' };
    // Batches of an earlier coordinator that no worker has taken are replaced by this one's.
    await queue.drain(true);
    const batches = await enqueue(missing, '');
    log(`enqueued ${missing.length} runs in ${batches} batches on queue ${queueName} at ${options.address.display}`);
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
      const merged = await mergeWaiting();
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
        const reasons = failed.map((failedJob) => `batch ${printable(failedJob.id)}: ${printable(failedJob.failedReason)}`);
        if (rejectedCount > 0) reasons.push(`${rejectedCount} segments set aside in ${options.segments}/${REJECTED_FOLDER}/ (see their .reason.txt)`);
        return { kind: 'gave-up', missing: missing.length, reasons };
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
