import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { expandJob, type ExpandedJob, type JobSpec } from '../src/job/index.js';
import { executeRuns, type RunEvents } from '../src/runner/execute.js';
import { mergeSegment, openDatabase, recordJob, SegmentError, type Db } from '../src/store/index.js';
import { NOT_COPIED, PER_RUN_TABLES } from '../src/store/merge.js';
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
let counter = 0;
const fresh = (name: string): string => join(folder.path, `${name}-${counter++}.sqlite`);

const quiet: RunEvents = { jobPlanned: () => undefined, runStarted: () => undefined, shardCommitted: () => undefined, runFinished: () => undefined };

/**
 * A database holding `runs` of the job (recorded) and computed: fully, or only up
 * to `stopAfterShards` committed shards when given.
 */
async function computed(path: string, selection: ExpandedJob['runs'], options: { stopAfterShards?: number; depthCurves?: boolean } = {}): Promise<void> {
  const runs = selection.map((run) => ({ ...run, depthCurves: options.depthCurves ?? false }));
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
    await computed(target, job.runs, { stopAfterShards: 3 });
    const before = withDb(target, (db) => ({
      keys: db.prepare('SELECT run_id, run_key FROM runs ORDER BY run_id').raw().all(),
      members: db.prepare('SELECT count(*) FROM job_runs').pluck().get() as number,
      shards: db.prepare('SELECT count(*) FROM shards').pluck().get() as number,
    }));
    assert.ok(before.shards >= 3, 'some shards committed');
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
});
