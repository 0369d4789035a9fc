import { classify, EnvironmentError } from '../errors.js';
import { DEFAULT_DB, type JobSpec } from '../job/index.js';
import { executeRuns, startWindows } from '../runner/execute.js';
import type { ShardPool } from '../runner/pool.js';
import { progressReporter, type ProgressReporter } from '../runner/progress.js';
import type { WindowCache } from '../runner/windows.js';
import { checkDatabasePath, closeDatabase } from '../store/index.js';
import { expandRuns, openLockedStore, recordJobRuns, type JobRuns, type LockedStore } from './steps.js';

export interface JobRunOptions {
  /** The job file's path, or null for a job given by flags. */
  readonly source: string | null;
  readonly shardSize?: number;
  /** Wait for another writer of the store rather than fail. */
  readonly wait: boolean;
  /** The command line others see in the store's lock. */
  readonly command: string;
  /** What to tell the user to do to continue (after a stop, or a failure of the machine). */
  readonly resumeHint: (dbPath: string) => string;
  readonly log: (line: string) => void;
  /** While bars are drawn, messages go through them: `routeLog(sink)` sends every message there, `routeLog(undefined)` back. */
  readonly routeLog: (sink: ((line: string) => void) | undefined) => void;
  /** Where progress is drawn. */
  readonly progressTo: NodeJS.WriteStream;
  /** Called once the store is open, before it is locked. */
  readonly opened?: (dbPath: string) => void;
}

export type JobRunOutcome =
  | { readonly kind: 'stopped'; readonly runsDone: number; readonly runsTotal: number }
  | { readonly kind: 'done'; readonly jobId: number; readonly runsTotal: number; readonly alreadyDone: boolean; readonly seconds: number };

/**
 * One job computed on a pool into its store, as `run` and `resume` do it:
 * open() expands the job, begins its first forward pass, opens and locks the
 * store; compute() records the job and computes what the store lacks, with
 * progress; stop() ends it after the shards in flight are committed; close()
 * releases the lock and closes the store. The database is `spec.db`, else
 * SPARSETRACE_DB, else the default.
 */
export class JobRun {
  private readonly controller = new AbortController();
  private readonly progress: ProgressReporter;

  private constructor(
    private readonly pool: ShardPool,
    private readonly spec: JobSpec,
    private readonly job: JobRuns,
    private readonly windows: WindowCache,
    private readonly store: LockedStore,
    private readonly options: JobRunOptions,
  ) {
    this.progress = progressReporter(options.progressTo, job.runs.length, { log: options.log });
  }

  static async open(pool: ShardPool, spec: JobSpec, options: JobRunOptions): Promise<JobRun> {
    // --db or the job file's "db", else SPARSETRACE_DB, else the default.
    const dbPath = spec.db ?? process.env.SPARSETRACE_DB ?? DEFAULT_DB;
    checkDatabasePath(dbPath);
    const job = expandRuns(spec, options.log);
    // The first window's forward pass begins on the pool while this thread opens and locks the database.
    const windows = startWindows(pool, job.models, job.runs);
    const store = await openLockedStore(dbPath, { command: options.command, wait: options.wait, log: options.log, opened: () => options.opened?.(dbPath) });
    return new JobRun(pool, spec, job, windows, store, options);
  }

  get dbPath(): string {
    return this.store.path;
  }

  get db(): LockedStore['db'] {
    return this.store.db;
  }

  /** Records the job and computes what the store lacks of it. */
  async compute(): Promise<JobRunOutcome> {
    const { db } = this.store;
    this.options.routeLog(this.progress.log);
    const jobId = recordJobRuns(db, this.spec, this.job, this.options.source);
    const started = performance.now();
    const result = await this.execute();
    // Nothing is left for the threads: they stop while the report is written (withPool awaits it, and sees a failure).
    this.pool.destroy().catch(() => {});
    this.stopProgress();
    if (result.stopped) return { kind: 'stopped', runsDone: result.runsDone, runsTotal: result.runsTotal };
    return { kind: 'done', jobId, runsTotal: result.runsTotal, alreadyDone: result.runsAlreadyDone === result.runsTotal, seconds: (performance.now() - started) / 1000 };
  }

  /** Stops after the shards in flight are committed: compute() then says 'stopped'. */
  stop(): void {
    this.controller.abort();
  }

  /**
   * Quitting at once (a second Ctrl-C): the bars go, saying `why`, and the lock
   * with them. Called from an event, between two statements: no transaction is open.
   */
  quitNow(why: string): void {
    // The bars go first: they give the terminal its cursor and line wrap back, and print the lines they hold.
    this.stopProgress();
    this.options.log(`${why}; committed shards are kept; ${this.options.resumeHint(this.dbPath)}`);
    this.store.release();
  }

  /** Releases the lock and closes the store (out of WAL mode, as every writer leaves it). */
  close(): void {
    try {
      this.stopProgress();
      this.store.release();
    } finally {
      closeDatabase(this.store.db);
    }
  }

  private async execute(): ReturnType<typeof executeRuns> {
    try {
      return await executeRuns(this.store.db, this.job.models, this.job.runs, {
        threads: this.pool.threads,
        shardSize: this.options.shardSize,
        stopSignal: this.controller.signal,
        events: this.progress,
        pool: this.pool,
        windows: this.windows,
      });
    } catch (error) {
      throw this.explained(error);
    }
  }

  /** A failure of the machine (a full disk) says that committed shards are kept and how to go on. */
  private explained(error: unknown): unknown {
    const known = classify(error, `database ${this.dbPath}`);
    if (known instanceof EnvironmentError) return new EnvironmentError(`${known.message}; every shard committed before is kept: fix that, then ${this.options.resumeHint(this.dbPath)}`);
    return known ?? error;
  }

  private stopProgress(): void {
    this.progress.stop();
    this.options.routeLog(undefined);
  }
}
