import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { expandJob, type ExpandedJob, type JobSpec } from '../src/job/index.js';
import { executeRuns, type RunEvents } from '../src/runner/execute.js';
import { SegmentError } from '../src/errors.js';
import { mergeSegment, openDatabase, recordJob, type Db } from '../src/store/index.js';
import { depthRowCount, NOT_COPIED, PER_RUN_TABLES } from '../src/store/merge.js';
import { TOOL_VERSION } from '../src/version.js';
import { resultRows, SHARED_DATA, SHARED_MODEL, temporaryFolder } from './cli.js';

const folder = temporaryFolder('merge');
after(() => folder.remove());

/** 3 windows × 2 depths of short windows: 6 small runs. */
const spec: JobSpec = {
  name: 'merge-test',
  models: [SHARED_MODEL],
  data: [{ path: SHARED_DATA, offset: 0, length: 60, stride: 200, count: 3 }],
  dmax: [4, 9],
  tau: [0.001, 0.01, 0.1],
};
const job = expandJob(spec, () => undefined);
/** Any file that is not a SQLite database. */
const jobFileForTest = SHARED_DATA;
let counter = 0;
const fresh = (name: string): string => join(folder.path, `${name}-${counter++}.sqlite`);

const quiet: RunEvents = { jobPlanned: () => undefined, runStarted: () => undefined, shardCommitted: () => undefined, runFinished: () => undefined };

/**
 * A database holding `runs` of the job (recorded) and computed: fully, or only up
 * to `stopAfterShards` committed shards when given.
 */
async function computed(path: string, selection: ExpandedJob['runs'], options: { stopAfterShards?: number; depthCurves?: boolean; keep?: 'full' | 'summaries' } = {}): Promise<void> {
  const runs = selection.map((run) => ({ ...run, depthCurves: options.depthCurves ?? false, keep: options.keep ?? 'full' }));
  const db = openDatabase(path);
  try {
    recordJob(db, { name: 'part', sha256: `part-${path}`, source: null, specJson: '{}' }, runs, TOOL_VERSION);
    const controller = new AbortController();
    let shards = 0;
    const events: RunEvents = {
      ...quiet,
      shardCommitted: () => {
        if (options.stopAfterShards !== undefined && ++shards >= options.stopAfterShards) controller.abort();
      },
    };
    await executeRuns(db, job.models.map((loaded) => loaded.model), runs, { threads: 1, shardSize: 10, stopSignal: controller.signal, events });
  } finally {
    db.close();
  }
}

function withDb<T>(path: string, body: (db: Db) => T): T {
  const db = openDatabase(path);
  try {
    return body(db);
  } finally {
    db.close();
  }
}

const statuses = (path: string): Record<string, string> =>
  withDb(path, (db) => Object.fromEntries((db.prepare('SELECT run_id, status FROM runs').raw().all() as [string, string][]).map(([id, status]) => [id, status])));

describe('merging a segment into a database', () => {
  test('every table keyed by run_key is copied or deliberately not (a new per-run table must be added to the merge)', () => {
    const tables = withDb(fresh('schema'), (db) =>
      (db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name IN (SELECT m.name FROM sqlite_schema m, pragma_table_info(m.name) c WHERE c.name = 'run_key')`).pluck().all() as string[]).sort(),
    );
    assert.deepEqual(tables, [...PER_RUN_TABLES.map(([table]) => table), ...NOT_COPIED].sort());
  });

  const reference = fresh('reference');
  test('reference: the whole job in one database', async () => {
    await computed(reference, job.runs);
    assert.equal(Object.values(statuses(reference)).filter((status) => status === 'done').length, 6);
  });

  test('two segments merged into an empty database equal the single database, row for row; merging again changes nothing', async () => {
    const first = fresh('segment');
    const second = fresh('segment');
    await computed(first, job.runs.slice(0, 4));
    await computed(second, job.runs.slice(2));
    const target = fresh('target');
    withDb(target, (db) => {
      const a = mergeSegment(db, first);
      assert.deepEqual([a.merged.length, a.alreadyDone.length, a.unfinished.length], [4, 0, 0]);
      assert.equal(a.positions, 4 * 59);
      const b = mergeSegment(db, second);
      assert.deepEqual([b.merged.length, b.alreadyDone.length], [2, 2], 'runs in both segments are merged once');
    });
    assert.equal(resultRows(target), resultRows(reference));
    withDb(target, (db) => {
      const again = mergeSegment(db, first);
      assert.deepEqual([again.merged.length, again.alreadyDone.length, again.positions], [0, 4, 0]);
      assert.equal((db.prepare('SELECT count(*) FROM models').pluck().get() as number), 1, 'one model row');
    });
    assert.equal(resultRows(target), resultRows(reference), 'merge twice = merge once');
  });

  test('a run the database holds partially (recorded by its job, some shards committed) is completed in place', async () => {
    const target = fresh('partial');
    // Stopped at its first shard: those in flight then (TASKS_PER_THREAD at 1 thread) are committed too, fewer than a run's 6.
    await computed(target, job.runs, { stopAfterShards: 1 });
    const before = withDb(target, (db) => ({
      keys: db.prepare('SELECT run_id, run_key FROM runs ORDER BY run_id').raw().all(),
      members: db.prepare('SELECT count(*) FROM job_runs').pluck().get() as number,
      shards: db.prepare('SELECT count(*) FROM shards').pluck().get() as number,
    }));
    assert.ok(before.shards >= 2, 'some shards committed');
    assert.ok(Object.values(statuses(target)).every((status) => status !== 'done'), 'no run finished');
    const segment = fresh('segment');
    await computed(segment, job.runs);
    withDb(target, (db) => {
      const result = mergeSegment(db, segment);
      assert.equal(result.merged.length, 6);
      assert.deepEqual(db.prepare('SELECT run_id, run_key FROM runs ORDER BY run_id').raw().all(), before.keys, 'run keys kept');
      assert.equal(db.prepare('SELECT count(*) FROM job_runs').pluck().get(), before.members, 'job membership kept');
    });
    assert.equal(resultRows(target), resultRows(reference));
  });

  test('a run the segment has not finished is skipped', async () => {
    const segment = fresh('unfinished');
    await computed(segment, job.runs.slice(0, 2), { stopAfterShards: 7 });
    const states = Object.values(statuses(segment));
    assert.deepEqual(states.sort(), ['done', 'running'], 'one run done, one partial');
    const target = fresh('target');
    withDb(target, (db) => {
      const result = mergeSegment(db, segment);
      assert.deepEqual([result.merged.length, result.unfinished.length], [1, 1]);
      assert.equal(db.prepare('SELECT count(*) FROM runs').pluck().get(), 1, 'only the finished run is recorded');
      assert.equal(db.prepare('SELECT count(DISTINCT run_key) FROM position_rows').pluck().get(), 1);
    });
  });

  test('a run recorded differently (depth curves) is refused, and nothing of the segment is merged', async () => {
    const target = fresh('curves');
    withDb(target, (db) =>
      recordJob(db, { name: 'curves', sha256: 'curves', source: null, specJson: '{}' }, job.runs.slice(1, 2).map((run) => ({ ...run, depthCurves: true })), TOOL_VERSION),
    );
    const segment = fresh('segment');
    await computed(segment, job.runs.slice(0, 2));
    withDb(target, (db) => {
      assert.throws(() => mergeSegment(db, segment), (error: unknown) => error instanceof SegmentError && /depth curves not kept here, kept in the database/.test(error.message));
      assert.equal(db.prepare('SELECT count(*) FROM runs').pluck().get(), 1, 'the other run was not merged either');
      assert.equal(db.prepare('SELECT count(*) FROM position_rows').pluck().get(), 0);
      assert.deepEqual(db.prepare('PRAGMA database_list').all().length, 1, 'segment detached');
    });
  });

  test('depth_rows of a run with curves: every position at every d ≤ min(t, Dmax)', () => {
    // Checked against the formula by hand: 59 positions at Dmax 9 are 1 + 2 + … + 10 + 49 × 10.
    assert.equal(depthRowCount(59, 9), 545);
    assert.equal(depthRowCount(5, 9), 15);
    assert.equal(depthRowCount(1, 0), 1);
  });
});

describe('a segment that calls a run done must hold all of it', () => {
  /** A whole segment of runs 0 and 1 (Dmax 4 and 9 of the first window), computed once and copied per case. */
  const whole = fresh('whole');
  const curves = fresh('curves');
  const summaries = fresh('summaries');
  const altered = (source: string, sql: string): string => {
    const copy = fresh('altered');
    copyFileSync(source, copy);
    const db = new Database(copy);
    db.exec(sql);
    db.close();
    return copy;
  };
  const runKeyOf = (index: number) => `(SELECT run_key FROM runs WHERE run_id = '${job.runs[index]!.runId}')`;
  /** Merging `segment` into a new database is refused with `reason`, and leaves it without any run. */
  const refused = (segment: string, reason: RegExp): void => {
    withDb(fresh('target'), (db) => {
      assert.throws(
        () => mergeSegment(db, segment),
        (error: unknown) => error instanceof SegmentError && /is marked done but incomplete: /.test(error.message) && reason.test(error.message),
      );
      assert.equal(db.prepare('SELECT count(*) FROM runs').pluck().get(), 0, 'nothing merged');
      assert.equal(db.prepare('PRAGMA database_list').all().length, 1, 'segment detached');
    });
  };

  test('whole segments (full, with curves, kept as summaries) merge', async () => {
    await computed(whole, job.runs.slice(0, 2));
    await computed(curves, job.runs.slice(0, 2), { depthCurves: true });
    await computed(summaries, job.runs.slice(0, 2), { keep: 'summaries' });
    withDb(summaries, (db) => assert.equal(db.prepare('SELECT count(*) FROM position_rows').pluck().get(), 0, 'a summaries run holds no position rows'));
    for (const segment of [whole, curves, summaries]) {
      withDb(fresh('target'), (db) => assert.equal(mergeSegment(db, segment).merged.length, 2));
    }
  });

  test("merged runs are rolled up: their cohorts' frequencies are the sums of their rows; runs kept as summaries here then drop their own", () => {
    const target = fresh('target');
    const sql = (path: string, query: string): unknown[] => withDb(path, (db) => db.prepare(query).raw().all());
    withDb(target, (db) => {
      recordJob(db, { name: 's', sha256: 's', source: null, specJson: '{}' }, job.runs.slice(0, 2).map((run) => ({ ...run, depthCurves: false, keep: 'summaries' as const })), TOOL_VERSION);
      assert.equal(mergeSegment(db, whole).merged.length, 2);
    });
    const ofRuns = sql(whole, `SELECT r.dmax, f.tau, f.class, f.src, f.dst, sum(f.positions) FROM pattern_frequency f JOIN runs r USING (run_key) GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5`);
    assert.ok(ofRuns.length > 0);
    assert.deepEqual(sql(target, `SELECT dmax, tau, class, src, dst, positions FROM cohort_pattern_frequency ORDER BY 1, 2, 3, 4, 5`), ofRuns);
    assert.deepEqual(sql(target, `SELECT count(*) FROM pattern_frequency_rows`), [[0]]);
    // A segment whose summaries runs dropped their rows (its own rollups hold them) merges too: its runs come without frequencies.
    const plain = fresh('target');
    withDb(plain, (db) => assert.equal(mergeSegment(db, summaries).merged.length, 2));
    assert.deepEqual(sql(summaries, `SELECT count(*) FROM pattern_frequency_rows`), [[0]]);
  });

  test('half of a run\'s position_rows missing: refused, naming the run and the count', () => {
    refused(altered(whole, `DELETE FROM position_rows WHERE run_key = ${runKeyOf(0)} AND t >= 30`), new RegExp(`run ${job.runs[0]!.runId} .*position_rows has 30 of its 59 positions`));
  });

  test('one τ\'s count blocks missing: refused', () => {
    refused(altered(whole, `DELETE FROM count_blocks WHERE run_key = ${runKeyOf(1)} AND tau_index = 2`), /count_blocks has \d+ of its \d+ blocks \(\d+ shards × 3 τ\)/);
  });

  test('a count block that fits no shard: refused', () => {
    refused(
      altered(whole, `UPDATE count_blocks SET count = count - 1 WHERE run_key = ${runKeyOf(0)} AND tau_index = 0 AND start = 0`),
      /count_blocks has \d+ of its \d+ blocks .*, and 1 that fit no shard/,
    );
  });

  test('another run\'s summaries missing: refused', () => {
    refused(altered(whole, `DELETE FROM run_tau_stats WHERE run_key = ${runKeyOf(1)} AND tau_index = 1`), /summaries over all 59 positions for 2 of its 3 τ/);
  });

  test('a shard missing, or a depth profile, or depth rows: refused', () => {
    refused(
      altered(whole, `PRAGMA foreign_keys = OFF; DELETE FROM shards WHERE run_key = ${runKeyOf(0)} AND start = 10`),
      /its shards cover 49 of 59 positions with 1 gaps or overlaps/,
    );
    refused(altered(whole, `DELETE FROM run_depth WHERE run_key = ${runKeyOf(0)} AND d = 3`), /its depth profile has 4 of 5 offsets/);
    refused(altered(whole, `DELETE FROM shard_depth WHERE run_key = ${runKeyOf(1)} AND start = 20 AND d = 9`), /shard_depth has \d+ of its \d+ rows/);
    refused(altered(curves, `DELETE FROM depth_rows WHERE run_key = ${runKeyOf(1)} AND t = 58 AND d = 9`), /depth_rows has 544 of its 545 rows/);
  });

  test('the check follows what the database keeps: a summaries segment completes a summaries run, not a full one', async () => {
    // Kept as summaries here too: what the segment has is all the database keeps.
    const keptSummaries = fresh('target');
    withDb(keptSummaries, (db) => {
      recordJob(db, { name: 's', sha256: 's', source: null, specJson: '{}' }, job.runs.slice(0, 2).map((run) => ({ ...run, depthCurves: false, keep: 'summaries' as const })), TOOL_VERSION);
      assert.equal(mergeSegment(db, summaries).merged.length, 2);
    });
    // Kept in full here: the segment lacks every position.
    withDb(fresh('target'), (db) => {
      recordJob(db, { name: 'f', sha256: 'f', source: null, specJson: '{}' }, job.runs.slice(0, 2).map((run) => ({ ...run, depthCurves: false, keep: 'full' as const })), TOOL_VERSION);
      assert.throws(() => mergeSegment(db, summaries), (error: unknown) => error instanceof SegmentError && /position_rows has 0 of its 59 positions/.test(error.message));
      assert.equal(db.prepare(`SELECT count(*) FROM runs WHERE status = 'done'`).pluck().get(), 0);
    });
  });

  test('a file that is not a database: a SegmentError naming it', () => {
    const text = fresh('text');
    copyFileSync(jobFileForTest, text);
    withDb(fresh('target'), (db) => {
      assert.throws(() => mergeSegment(db, text), (error: unknown) => error instanceof SegmentError && error.message.startsWith(`segment ${text}: `));
      assert.equal(db.prepare('PRAGMA database_list').all().length, 1, 'nothing attached');
    });
  });
});
