import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { basename } from 'node:path';
import type { ExpandedJob } from '../job/index.js';
import { formatDuration } from '../duration.js';
import { SegmentError } from '../errors.js';
import { inspectSegment, jobRunStates, mergeSegment, type Db, type RunRecord } from '../store/index.js';
import { BATCH_FORMAT, batchId, planBatches } from './batches.js';
import { bullmqEngine } from './bullmq.js';
import type { QueueAddress } from './connection.js';
import { printable } from './names.js';
import { batchOfSegmentName, listSegments, REJECTED_FOLDER, setAside } from './segments.js';
import type { BatchQueue, Outstanding, QueueEngine } from './transport.js';

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
  /** The queue's engine: BullMQ on Redis unless another is given (transport.ts). */
  readonly engine?: QueueEngine;
}

export type CoordinatorOutcome = { readonly kind: 'done' } | { readonly kind: 'stopped' } | { readonly kind: 'gave-up'; readonly missing: number; readonly reasons: string[] };

/** What became of a segment found in the folder. */
type SegmentFate = 'merged' | 'rejected' | 'left';

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
  const coordinator = new Coordinator(db, jobId, job, options);
  try {
    return await coordinator.run();
  } finally {
    await coordinator.close();
  }
}

/** Why a readable segment is not this coordinator's to merge ('foreign'), or what is wrong with it; undefined when it is whole and ours. */
type Verdict = { readonly fate: 'foreign' | 'bad'; readonly reason: string; readonly batch?: string } | undefined;

/** The state of one coordination (see coordinate): public run() and close(), private steps. */
export class Coordinator {
  private readonly records: Map<string, RunRecord>;
  private readonly session = randomBytes(6).toString('hex');
  private readonly queue: BatchQueue;
  private readonly log: (line: string) => void;
  /** This coordinator's batches: their runs, so that a rejected segment's batch can be enqueued again. */
  private readonly batchRuns = new Map<string, readonly string[]>();
  private readonly totalRuns: number;
  private readonly totalPositions: number;
  private readonly started = performance.now();
  private mergedPositions = 0;
  private mergeSeconds = 0;
  private lastProgress = 0;
  /** Segments left in the folder (another coordinator's, or not movable): said once, then not looked at again. */
  private readonly leftAlone = new Set<string>();
  /** How often each run was enqueued again because its segment was rejected: bounded like reconciliation rounds. */
  private readonly requeues = new Map<string, number>();
  private rejectedCount = 0;
  private requeueCount = 0;

  constructor(
    private readonly db: Db,
    private readonly jobId: number,
    private readonly job: ExpandedJob,
    private readonly options: CoordinatorOptions,
  ) {
    this.log = options.log;
    this.records = new Map<string, RunRecord>(job.runs.map((run) => [run.runId, run]));
    this.queue = (options.engine ?? bullmqEngine).openQueue(options.address, options.queueName, options.log);
    this.totalRuns = job.runs.length;
    this.totalPositions = job.runs.reduce((sum, run) => sum + run.positions, 0);
  }

  /** Coordinates until every run is done, a stop, or the reconciliation rounds are spent. */
  async run(): Promise<CoordinatorOutcome> {
    const { log, options } = this;
    // Segments finished while no coordinator ran are merged first, so they are not enqueued again.
    await this.mergeWaiting();
    let missing = this.missingRuns();
    if (missing.length === 0) return { kind: 'done' };
    // Batches of an earlier coordinator that no worker has taken are replaced by this one's.
    await this.queue.dropWaiting();
    const batches = await this.enqueue(missing, '');
    log(`enqueued ${missing.length} runs in ${batches} batches on queue ${options.queueName} at ${options.address.display}`);
    let round = 0;
    let idlePolls = 0;
    while (!options.stopSignal.aborted) {
      await sleep(options.pollMs, options.stopSignal);
      if (options.stopSignal.aborted) break;
      const { merged, live, next } = await this.poll(missing);
      missing = next;
      if (missing.length === 0) {
        log(`all ${this.totalRuns} runs done; merged ${this.mergedPositions} positions in ${this.mergeSeconds.toFixed(2)} s of merging (${Math.round(this.mergedPositions / Math.max(this.mergeSeconds, 1e-6))} positions/s)`);
        return { kind: 'done' };
      }
      idlePolls = live === 0 && merged === 0 ? idlePolls + 1 : 0;
      if (idlePolls < 2) continue;
      idlePolls = 0;
      if (round >= options.maxRounds) return this.giveUp(missing);
      round++;
      if (!(await this.reconcile(missing, round))) round--;
    }
    return { kind: 'stopped' };
  }

  /** Closing says goodbye to the queue's server, which may be down: not for longer than a few seconds. */
  async close(): Promise<void> {
    await Promise.race([this.queue.close().catch(() => undefined), new Promise((done) => setTimeout(done, 3000).unref())]);
  }

  /** One look at the queue and the folder: merges what is there; the runs still missing, and how many batches are live. */
  private async poll(missing: RunRecord[]): Promise<{ merged: number; live: number | undefined; next: RunRecord[] }> {
    // Counts first, then the folder: a batch completed before the counts were read has its segment there already.
    let counts: Outstanding | undefined;
    try {
      counts = await this.queue.outstanding();
    } catch {
      counts = undefined;
    }
    const merged = await this.mergeWaiting();
    const live = counts?.live;
    // Reading every run's status costs a query over the job: only after a merge, or when the queue looks idle.
    const next = merged > 0 || live === 0 ? this.missingRuns() : missing;
    const now = performance.now();
    if (merged > 0 || now - this.lastProgress > 10_000) {
      this.progress(next, counts);
      this.lastProgress = now;
    }
    return { merged, live, next };
  }

  /** The queue ran dry with runs missing: enqueues them again under new ids; whether any batch was added. */
  private async reconcile(missing: RunRecord[], round: number): Promise<boolean> {
    const count = await this.enqueue(missing, `${this.session}-${round}`).catch((error: Error) => {
      this.log(`queue: cannot enqueue: ${error.message}`);
      return 0;
    });
    if (count > 0) this.log(`queue ran dry with ${missing.length} runs missing: re-enqueued them in ${count} batches (reconciliation round ${round} of at most ${this.options.maxRounds})`);
    return count > 0;
  }

  private async giveUp(missing: readonly RunRecord[]): Promise<CoordinatorOutcome> {
    const failed = await this.queue.failures(5).catch(() => []);
    // Read from the queue: shown quoted and on one line, whatever wrote them.
    const reasons = failed.map((failedJob) => `batch ${printable(failedJob.id)}: ${printable(failedJob.reason)}`);
    if (this.rejectedCount > 0) reasons.push(`${this.rejectedCount} segments set aside in ${this.options.segments}/${REJECTED_FOLDER}/ (see their .reason.txt)`);
    return { kind: 'gave-up', missing: missing.length, reasons };
  }

  private missingRuns(): RunRecord[] {
    return jobRunStates(this.db, this.jobId)
      .filter((state) => state.status !== 'done')
      .map((state) => {
        const record = this.records.get(state.run_id);
        if (record === undefined) throw new Error(`run ${state.run_id} of job ${this.jobId} is not in the job's expansion`);
        // The database's settings win: recordJob keeps an existing run as it was, and a segment must hold what it keeps.
        return { ...record, depthCurves: state.depth_curves === 1, keep: state.keep };
      });
  }

  private async enqueue(runs: RunRecord[], salt: string): Promise<number> {
    const batches = planBatches(runs, this.options.batchCost);
    // A few hundred batches per round trip: one huge MULTI would stall Redis.
    for (let first = 0; first < batches.length; first += ADD_CHUNK) {
      const chunk = batches.slice(first, first + ADD_CHUNK).map((batch) => ({ id: batchId(batch.map((run) => run.runId), salt), runs: batch }));
      await this.queue.enqueue(chunk.map((batch) => ({ id: batch.id, data: { format: BATCH_FORMAT, job: this.job.sha256, runs: batch.runs } })));
      for (const batch of chunk) this.batchRuns.set(batch.id, batch.runs.map((run) => run.runId));
    }
    return batches.length;
  }

  private judge(path: string): Verdict {
    const { job, options } = this;
    const inspection = inspectSegment(path);
    if (inspection.kind === 'unusable') return { fate: 'bad', reason: inspection.reason, batch: batchOfSegmentName(basename(path)) };
    const { identity, runs } = inspection;
    if (identity.jobSha256 !== job.sha256 || identity.queue !== options.queueName) {
      return {
        fate: 'foreign',
        reason:
          `made for job ${printable(identity.jobSha256.slice(0, 12))} on queue ${printable(identity.queue)} (by worker ${printable(identity.worker)}), ` +
          `not for this serve's job ${job.sha256.slice(0, 12)} on queue ${printable(options.queueName)}`,
      };
    }
    const batch = identity.batch;
    const named = batchOfSegmentName(basename(path));
    if (named !== batch) return { fate: 'bad', reason: `its name says batch ${printable(named)}, its identity batch ${printable(batch)}` };
    if (identity.runIds.length === 0) return { fate: 'bad', reason: `batch ${printable(batch)}: its identity lists no runs`, batch };
    for (const runId of identity.runIds) {
      if (!this.records.has(runId)) return { fate: 'bad', reason: `batch ${printable(batch)}: run ${printable(runId)} is not a run of this job`, batch };
      const status = runs.get(runId);
      if (status !== 'done') return { fate: 'bad', reason: `batch ${printable(batch)} is incomplete: run ${runId} is ${status === undefined ? 'not in it' : `${status}, not done`}`, batch };
    }
    const listed = new Set(identity.runIds);
    const extra = [...runs.keys()].find((runId) => !listed.has(runId));
    if (extra !== undefined) return { fate: 'bad', reason: `batch ${printable(batch)}: it holds run ${printable(extra)}, which the batch did not ask for`, batch };
    return undefined;
  }

  /** Sets a segment aside in rejected/, says so in one line, and enqueues its batch's missing runs again. */
  private async reject(path: string, reason: string, batch: string | undefined): Promise<SegmentFate> {
    const { log, options } = this;
    const where = `${options.segments}/${REJECTED_FOLDER}/`;
    try {
      // Gone meanwhile: not ours to judge (another serve sharing the folder took its own).
      if (setAside(options.segments, path, reason) === undefined) return 'left';
    } catch (error) {
      this.leftAlone.add(path);
      log(`segment ${path}: ${reason}; not merged, and it cannot be set aside in ${where} (${(error as Error).message}): move or delete it`);
      return 'left';
    }
    this.rejectedCount++;
    const runIds = batch === undefined ? undefined : this.batchRuns.get(batch);
    if (runIds === undefined) {
      log(`segment ${path}: ${reason}; set aside in ${where} (not merged; its runs are enqueued again if the queue runs dry without them)`);
      return 'rejected';
    }
    const count = await this.requeueRejected(runIds);
    log(
      `segment ${path}: ${reason}; set aside in ${where} (not merged; ` +
        (count > 0 ? `its ${count} runs not done here are enqueued again)` : 'its runs are enqueued again if the queue runs dry without them)'),
    );
    return 'rejected';
  }

  /** Enqueues again the runs of a rejected segment's batch that are missing here (each a bounded number of times); how many. */
  private async requeueRejected(runIds: readonly string[]): Promise<number> {
    const { requeues } = this;
    const wanted = new Set(runIds.filter((runId) => (requeues.get(runId) ?? 0) < Math.max(this.options.maxRounds, 1)));
    const again = this.missingRuns().filter((run) => wanted.has(run.runId));
    for (const run of again) requeues.set(run.runId, (requeues.get(run.runId) ?? 0) + 1);
    const count = again.length === 0 ? 0 : await this.enqueue(again, `${this.session}-r${++this.requeueCount}`).catch((error: Error) => {
      this.log(`queue: cannot enqueue: ${error.message}`);
      return 0;
    });
    return count > 0 ? again.length : 0;
  }

  private async mergeOne(path: string): Promise<SegmentFate> {
    const verdict = this.judge(path);
    // Gone while being read: another serve sharing the folder merged its own.
    if (verdict?.fate === 'bad' && !existsSync(path)) return 'left';
    if (verdict?.fate === 'foreign') {
      this.leftAlone.add(path);
      this.log(`segment ${path}: ${verdict.reason}; left where it is for its own serve (give each serve a --segments folder of its own)`);
      return 'left';
    }
    if (verdict !== undefined) return this.reject(path, verdict.reason, verdict.batch);
    const mergeStarted = performance.now();
    let result;
    try {
      result = mergeSegment(this.db, path);
    } catch (error) {
      if (!(error instanceof SegmentError)) throw error;
      // The message without the file's name and its "not merged", which the line about setting it aside says.
      return this.reject(path, error.message.replace(`segment ${path}: `, '').replace(/; not merged$/, ''), batchOfSegmentName(basename(path)));
    }
    const seconds = (performance.now() - mergeStarted) / 1000;
    this.mergeSeconds += seconds;
    this.mergedPositions += result.positions;
    this.log(
      `merged ${path}: ${result.merged.length} runs, ${result.positions} positions in ${seconds.toFixed(3)} s` +
        (result.alreadyDone.length > 0 ? `; ${result.alreadyDone.length} runs already done (a batch computed twice), ignored` : ''),
    );
    rmSync(path, { force: true });
    return 'merged';
  }

  /** Merges (or sets aside) every whole segment in the folder; returns how many there were, those left alone apart. */
  private async mergeWaiting(): Promise<number> {
    let handled = 0;
    for (const path of listSegments(this.options.segments)) {
      if (this.leftAlone.has(path)) continue;
      if ((await this.mergeOne(path)) !== 'left') handled++;
    }
    return handled;
  }

  private progress(missing: readonly RunRecord[], counts: Outstanding | undefined): void {
    const { totalRuns, totalPositions } = this;
    const done = totalRuns - missing.length;
    const elapsed = (performance.now() - this.started) / 1000;
    const rate = this.mergedPositions / Math.max(elapsed, 1e-3);
    const left = missing.reduce((sum, run) => sum + run.positions, 0);
    const queueText = counts === undefined ? 'queue unreachable' : `queue: ${counts.waiting} waiting, ${counts.active} active`;
    this.log(
      `${done}/${totalRuns} runs done, ${totalPositions - left}/${totalPositions} positions; ` +
        `${Math.round(rate)} positions/s over ${formatDuration(elapsed)}, ETA ${rate > 0 ? formatDuration(left / rate) : '?'}; ${queueText}`,
    );
  }
}
