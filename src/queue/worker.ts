import { mkdirSync, rmSync } from 'node:fs';
import { RefusedBatchError } from '../errors.js';
import { runIdentity, type PlannedRun } from '../job/index.js';
import type { LoadedModel } from '../model/index.js';
import { executeRuns, type ExecuteResult, type RunEvents } from '../runner/execute.js';
import { lockStore } from '../jobrun/steps.js';
import { openDatabase, recordJob, type Db, type RunRecord } from '../store/index.js';
import { TOOL_VERSION } from '../version.js';
import { bullmqEngine } from './bullmq.js';
import type { QueueAddress } from './connection.js';
import { workerMilestone } from './milestones.js';
import { ModelCache } from './models.js';
import { fileInside, nameProblem } from './names.js';
import type { QueueTiming } from './protocol.js';
import { writeSegment } from './segments.js';
import type { QueueEngine, TakenBatch } from './transport.js';
import { checkBatch, type CheckedBatch } from './validate.js';

export interface WorkerOptions {
  readonly address: QueueAddress;
  readonly queueName: string;
  readonly segments: string;
  /** Local folder for the batches' databases (WAL needs a local disk). */
  readonly workDir: string;
  readonly threads: number;
  readonly shardSize?: number;
  readonly timing: QueueTiming;
  readonly log: (line: string) => void;
  /** The queue's engine: BullMQ on Redis unless another is given (transport.ts). */
  readonly engine?: QueueEngine;
}

export interface RunningWorker {
  /** Stops taking batches; a batch in progress is abandoned (back to the queue) at its next shard boundary. */
  stop(): Promise<void>;
  /** Resolves when the worker has stopped. */
  readonly closed: Promise<void>;
}

/**
 * A queue worker: takes one batch at a time, computes it with `executeRuns` into
 * a local database (resuming it if this worker computed part of it before),
 * writes the finished database as a segment into the shared folder, deletes the
 * local file and completes the job. The segment is written before the job is
 * acknowledged: a worker dying between the two leaves a segment and a job that
 * runs again; the coordinator's merge ignores the second copy.
 */
export function startWorker(options: WorkerOptions): RunningWorker {
  const { log, timing } = options;
  mkdirSync(options.workDir, { recursive: true });
  const batches = new BatchProcessor(options);
  const worker = (options.engine ?? bullmqEngine).consume(options.address, options.queueName, (job) => batches.process(job), {
    timing,
    log,
    // A refused id is shown quoted (it may be anything); checkBatch's message already says what is wrong with it.
    onFailed: (id, error) => log(nameProblem(id) === undefined ? `batch ${id}: failed: ${error.message}` : `failed: ${error.message}`),
  });
  return {
    async stop() {
      batches.stop();
      await worker.close();
    },
    closed: worker.closed,
  };
}

/** A batch's runs as this worker computes them, and the models they index. */
interface BatchPlan {
  readonly runs: PlannedRun[];
  readonly loaded: LoadedModel[];
}

/** What startWorker does with each batch taken: check it, compute it, write its segment. */
class BatchProcessor {
  readonly #options: WorkerOptions;
  readonly #models = new ModelCache();
  readonly #stopController = new AbortController();

  constructor(options: WorkerOptions) {
    this.#options = options;
  }

  /** The batch in progress stops at its next shard boundary. */
  stop(): void {
    this.#stopController.abort();
  }

  async process(job: TakenBatch): Promise<{ segment: string; runs: number }> {
    const { log } = this.#options;
    // Nothing of a batch is used before it is checked: its id names files, its runs name inputs.
    const batch = checkBatch(job.id, job.data);
    const started = performance.now();
    const { runs, loaded } = this.plan(batch);
    const dbPath = fileInside(this.#options.workDir, `${batch.id}.sqlite`);
    const segment = await this.computeSegment(job, batch, runs, loaded, dbPath);
    for (const suffix of ['', '-wal', '-shm']) rmSync(dbPath + suffix, { force: true });
    const positions = runs.reduce((sum, run) => sum + run.positions, 0);
    const seconds = (performance.now() - started) / 1000;
    log(`batch ${batch.id}: ${runs.length} runs, ${positions} positions in ${seconds.toFixed(1)} s; segment ${segment}`);
    workerMilestone(() => ({ point: 'segment-written', batch: batch.id, shards: 0, log }));
    return { segment, runs: runs.length };
  }

  /** The batch's runs with their models, each run's identity checked against what this machine computes. */
  private plan(batch: CheckedBatch): BatchPlan {
    const loaded: LoadedModel[] = [];
    const runs: PlannedRun[] = batch.runs.map((run) => {
      const model = this.modelFor(run);
      let modelIndex = loaded.indexOf(model);
      if (modelIndex < 0) modelIndex = loaded.push(model) - 1;
      const identity = runIdentity({ modelSha256: model.sha256, dataSha256: run.data.sha256, burnIn: run.data.burnIn, dmax: run.dmax, taus: run.taus, gate: run.gate, rule: run.rule });
      if (identity !== run.runId) throw new RefusedBatchError(`batch ${batch.id}: run ${run.runId} has identity ${identity} here (another sparsetrace version?)`);
      return { ...run, modelIndex };
    });
    return { runs, loaded };
  }

  private modelFor(run: RunRecord): LoadedModel {
    const loaded = this.#models.get(run.model.path);
    if (loaded.sha256 !== run.model.sha256) {
      throw new RefusedBatchError(`model ${run.model.path} on this machine has sha256 ${loaded.sha256}, the coordinator's has ${run.model.sha256}`);
    }
    return loaded;
  }

  /** Computes the batch into its local database under the store's lock and writes that as a segment; returns the segment's name. */
  private async computeSegment(job: TakenBatch, batch: CheckedBatch, runs: PlannedRun[], loaded: LoadedModel[], dbPath: string): Promise<string> {
    const { log } = this.#options;
    const db = openDatabase(dbPath);
    try {
      const release = await lockStore(db, dbPath, { command: `sparsetrace worker (batch ${batch.id})`, wait: false, log });
      try {
        recordJob(db, { name: `batch-${batch.id}`, sha256: batch.id, source: null, specJson: JSON.stringify(job.data) }, runs, TOOL_VERSION);
        const result = await this.execute(db, batch, runs, loaded);
        if (result.stopped) {
          // Stopping: the batch goes back to the queue now, not after its lock expires.
          log(`batch ${batch.id}: abandoned at ${result.runsDone} of ${result.runsTotal} runs; back in the queue`);
          await job.giveBack();
        }
        return writeSegment(db, this.#options.segments, { jobSha256: batch.job, queue: this.#options.queueName, batch: batch.id, runIds: runs.map((run) => run.runId) });
      } finally {
        release();
      }
    } finally {
      db.close();
    }
  }

  /** executeRuns on the batch, a milestone at each committed shard, stopping when the worker stops. */
  private execute(db: Db, batch: CheckedBatch, runs: PlannedRun[], loaded: LoadedModel[]): Promise<ExecuteResult> {
    const { log } = this.#options;
    let shards = 0;
    const events: RunEvents = {
      jobPlanned: () => undefined,
      runStarted: () => undefined,
      shardCommitted: () => {
        shards++;
        workerMilestone(() => ({ point: 'shard-committed', batch: batch.id, shards, log }));
      },
      runFinished: () => undefined,
    };
    return executeRuns(
      db,
      loaded.map((model) => model.model),
      runs,
      { threads: this.#options.threads, shardSize: this.#options.shardSize, stopSignal: this.#stopController.signal, events },
    );
  }
}
