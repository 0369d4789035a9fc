/** Managing a store: `jobs`, `--job` on status, runs, resume and report, and `rm`. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { cli, cliHere, SHARED_DATA, SHARED_MODEL, temporaryFolder, type CliResult } from './cli.js';

const folder = temporaryFolder('manage');
after(() => folder.remove());

const TAUS = [0.01, 0.1];
/** Two jobs over one 64-byte window: ja (Dmax 5) and jb (Dmax 5 and 6), so jb shares ja's run. */
const base = join(folder.path, 'base.sqlite');

function jobFile(name: string, dmax: number[], length = 64): string {
  const path = join(folder.path, `${name}.json`);
  writeFileSync(path, JSON.stringify({ name, models: [SHARED_MODEL], data: [{ path: SHARED_DATA, length }], dmax, tau: TAUS }));
  return path;
}

function ok(result: CliResult, what: string): CliResult {
  assert.equal(result.code, 0, `${what}: ${result.stderr}`);
  return result;
}

function assertOneLine(stderr: string, what: string): void {
  assert.equal(stderr.trimEnd().split('\n').length, 1, `${what}: one line on stderr, got ${JSON.stringify(stderr)}`);
}

let copies = 0;
/** A copy of the base database to change. */
function copyOfBase(): string {
  const path = join(folder.path, `copy-${++copies}.sqlite`);
  copyFileSync(base, path);
  return path;
}

interface RunJson {
  readonly run_id: string;
  readonly dmax: number;
  readonly status: string;
}
const runsOf = async (db: string, extra: string[] = []): Promise<RunJson[]> => JSON.parse(ok(await cliHere(['runs', '--db', db, '--format', 'json', ...extra]), 'runs').stdout) as RunJson[];

/** The run ids of ja's run (shared with jb) and of jb's own run. */
let shared: string;
let jbOnly: string;

before(async () => {
  ok(await cliHere(['run', jobFile('ja', [5]), '--db', base, '--no-report']), 'run ja');
  ok(await cliHere(['run', jobFile('jb', [5, 6]), '--db', base, '--no-report']), 'run jb');
  const runs = await runsOf(base);
  assert.equal(runs.length, 2);
  shared = runs.find((run) => run.dmax === 5)?.run_id ?? '';
  jbOnly = runs.find((run) => run.dmax === 6)?.run_id ?? '';
});

/** Every table with a run_key column (found in the schema, as rm finds them) → rows per run_key. */
function rowsByRunKey(db: string): Map<string, Map<number, number>> {
  const handle = new Database(db, { readonly: true });
  try {
    const tables = handle.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`).pluck().all() as string[];
    const result = new Map<string, Map<number, number>>();
    for (const table of tables) {
      const columns = handle.prepare('SELECT name FROM pragma_table_info(?)').pluck().all(table) as string[];
      if (!columns.includes('run_key')) continue;
      const rows = handle.prepare(`SELECT run_key, count(*) FROM "${table}" GROUP BY run_key`).raw().all() as [number, number][];
      result.set(table, new Map(rows));
    }
    return result;
  } finally {
    handle.close();
  }
}

function runKey(db: string, runId: string): number {
  const handle = new Database(db, { readonly: true });
  try {
    return handle.prepare('SELECT run_key FROM runs WHERE run_id = ?').pluck().get(runId) as number;
  } finally {
    handle.close();
  }
}

function count(db: string, sql: string): number {
  const handle = new Database(db, { readonly: true });
  try {
    return handle.prepare(sql).pluck().get() as number;
  } finally {
    handle.close();
  }
}

/** Makes runs of `db` as if never computed: no shards or rows, status pending (as a job recorded and stopped at once). */
function resetRuns(db: string, runIds: readonly string[]): void {
  const handle = new Database(db);
  try {
    const keys = `(SELECT run_key FROM runs WHERE run_id IN (${runIds.map((id) => `'${id}'`).join(', ')}))`;
    handle.exec(`
      BEGIN;
      DELETE FROM count_blocks WHERE run_key IN ${keys};
      DELETE FROM shard_depth WHERE run_key IN ${keys};
      DELETE FROM shards WHERE run_key IN ${keys};
      DELETE FROM position_rows WHERE run_key IN ${keys};
      DELETE FROM pattern_peak_rows WHERE run_key IN ${keys};
      DELETE FROM run_tau_stats WHERE run_key IN ${keys};
      DELETE FROM run_depth WHERE run_key IN ${keys};
      UPDATE runs SET status = 'pending', started_at = NULL, finished_at = NULL, compute_seconds = 0 WHERE run_key IN ${keys};
      COMMIT;`);
  } finally {
    handle.close();
  }
}

describe('jobs', () => {
  test('lists a two-job database as text and JSON, reading only', async () => {
    const before = readFileSync(base);
    const files = readdirSync(folder.path).sort();
    const json = JSON.parse(ok(await cliHere(['jobs', '--db', base, '--format', 'json']), 'jobs json').stdout) as Record<string, unknown>[];
    assert.equal(json.length, 2);
    for (const job of json) {
      assert.equal(typeof job.created_at, 'string');
      assert.equal(typeof job.last_started_at, 'string');
    }
    assert.deepEqual(
      json.map(({ created_at: _c, last_started_at: _l, ...rest }) => rest),
      [
        { job_id: 1, name: 'ja', source: join(folder.path, 'ja.json'), runs: 1, runs_done: 1, positions: 63, positions_done: 63, state: 'done' },
        { job_id: 2, name: 'jb', source: join(folder.path, 'jb.json'), runs: 2, runs_done: 2, positions: 126, positions_done: 126, state: 'done' },
      ],
    );
    const text = ok(await cliHere(['jobs', '--db', base]), 'jobs').stdout.split('\n');
    assert.match(text[0], /^job\s+name\s+source\s+runs\s+done\s+positions\s+state\s+created\s+last started$/);
    assert.match(text[2], new RegExp(`^\\s*1\\s+ja\\s+${join(folder.path, 'ja.json')}\\s+1\\s+1\\s+63/63\\s+done\\s+\\S+Z\\s+\\S+Z$`));
    assert.match(text[3], new RegExp(`^\\s*2\\s+jb\\s+${join(folder.path, 'jb.json')}\\s+2\\s+2\\s+126/126\\s+done\\s+\\S+Z\\s+\\S+Z$`));
    assert.deepEqual(readFileSync(base), before, 'the database is unchanged');
    assert.deepEqual(readdirSync(folder.path).sort(), files, 'no file created');
  });

  test('pending and interrupted jobs, as status names them', async () => {
    const db = copyOfBase();
    ok(await cliHere(['run', jobFile('jc', [7]), '--db', db, '--no-report']), 'run jc');
    ok(await cliHere(['run', jobFile('jd', [8, 9]), '--db', db, '--no-report']), 'run jd');
    const runs = await runsOf(db);
    resetRuns(db, runs.filter((run) => run.dmax >= 7 && run.dmax !== 9).map((run) => run.run_id));
    const json = JSON.parse(ok(await cliHere(['jobs', '--db', db, '--format', 'json']), 'jobs').stdout) as { name: string; state: string; runs_done: number; positions_done: number }[];
    assert.deepEqual(
      json.map(({ name, state, runs_done, positions_done }) => [name, state, runs_done, positions_done]),
      [
        ['ja', 'done', 1, 63],
        ['jb', 'done', 2, 126],
        ['jc', 'pending', 0, 0],
        ['jd', 'interrupted', 1, 63],
      ],
    );
    const status = JSON.parse(ok(await cliHere(['status', '--db', db, '--format', 'json']), 'status').stdout) as { jobs: { name: string; state: string }[] };
    assert.deepEqual(
      status.jobs.map((job) => [job.name, job.state]),
      json.map((job) => [job.name, job.state]),
      'the same states as status',
    );
  });
});

describe('--job on status, runs, resume and report', () => {
  test('selects the job by id or name', async () => {
    assert.deepEqual((await runsOf(base, ['--job', 'jb'])).map((run) => run.run_id), [shared, jbOnly]);
    assert.deepEqual((await runsOf(base, ['--job', '1'])).map((run) => run.run_id), [shared]);
    const status = JSON.parse(ok(await cliHere(['status', '--db', base, '--job', 'jb', '--format', 'json']), 'status').stdout) as {
      jobs: { job_id: number; run_states: { run_id: string }[] }[];
    };
    assert.deepEqual(
      status.jobs.map((job) => [job.job_id, job.run_states.map((run) => run.run_id)]),
      [[2, [shared, jbOnly]]],
    );
    const text = ok(await cliHere(['status', '--db', base, '--job', '1']), 'status').stdout;
    assert.match(text, /^job 1 ja: done/m);
    assert.doesNotMatch(text, /jb/);
    const reportJa = ok(await cliHere(['report', '--db', base, '--job', 'ja', '--format', 'json']), 'report').stdout;
    assert.deepEqual((JSON.parse(reportJa) as { runs: string[] }).runs, [shared]);
    assert.equal(ok(await cliHere(['report', '--db', base, '--job', '1', '--format', 'json']), 'report').stdout, reportJa);
    const reportJb = JSON.parse(ok(await cliHere(['report', '--db', base, '--job', '2', '--format', 'json', '--by', 'dmax']), 'report').stdout) as unknown;
    assert.match(JSON.stringify(reportJb), new RegExp(jbOnly));
  });

  test('an unknown job: exit 2, one line naming it and the jobs there are', async () => {
    for (const command of [['status'], ['runs'], ['resume'], ['report'], ['rm']]) {
      const result = await cliHere([...command, '--db', base, '--job', 'nope']);
      assert.equal(result.code, 2, `${command[0]}: ${result.stderr}`);
      assert.match(result.stderr, /--job nope: no job with that id or name in .*base\.sqlite \(jobs: 1 ja, 2 jb\)/, command[0]);
      assertOneLine(result.stderr, command[0]);
    }
    const byNumber = await cliHere(['runs', '--db', base, '--job', '7']);
    assert.equal(byNumber.code, 2);
    assert.match(byNumber.stderr, /--job 7: no job/);
  });

  test('a name several jobs have is refused with their ids; the id picks one', async () => {
    const db = join(folder.path, 'same-names.sqlite');
    // Ad hoc jobs are named from their inputs (data file, window, Dmax): the same inputs at other τ share a name.
    ok(await cliHere(['run', '--length', '64', '--dmax', '5', '--tau', '0.01,0.1', '--data', SHARED_DATA, '--model', SHARED_MODEL, '--db', db, '--no-report']), 'run');
    ok(await cliHere(['run', '--length', '64', '--dmax', '5', '--tau', '0.01', '--data', SHARED_DATA, '--model', SHARED_MODEL, '--db', db, '--no-report']), 'run');
    ok(await cliHere(['run', '--dmax', '5', '--tau', '0.01,0.1', '--data', SHARED_DATA, '--model', SHARED_MODEL, '--db', db, '--no-report']), 'run');
    const names = (JSON.parse(ok(await cliHere(['jobs', '--db', db, '--format', 'json']), 'jobs').stdout) as { name: string }[]).map((job) => job.name);
    assert.deepEqual(names, ['sat_model-enwik_1024@0+64-dmax5', 'sat_model-enwik_1024@0+64-dmax5', 'sat_model-enwik_1024-dmax5']);
    for (const command of [['status'], ['runs'], ['resume'], ['report'], ['rm']]) {
      const result = await cliHere([...command, '--db', db, '--job', 'sat_model-enwik_1024@0+64-dmax5']);
      assert.equal(result.code, 2, `${command[0]}: ${result.stderr}`);
      assert.match(result.stderr, /--job sat_model-enwik_1024@0\+64-dmax5: 2 jobs in .* have that name \(1 sat_model-enwik_1024@0\+64-dmax5, 2 sat_model-enwik_1024@0\+64-dmax5\); give the job id/);
      assertOneLine(result.stderr, command[0]);
    }
    assert.equal((await runsOf(db, ['--job', '2'])).length, 1);
  });

  test('resume --job continues that job, not the most recent unfinished one', async () => {
    const db = copyOfBase();
    ok(await cliHere(['run', jobFile('jc', [7]), '--db', db, '--no-report']), 'run jc');
    ok(await cliHere(['run', jobFile('jd', [8]), '--db', db, '--no-report']), 'run jd');
    const runs = await runsOf(db);
    const jc = runs.find((run) => run.dmax === 7)?.run_id ?? '';
    const jd = runs.find((run) => run.dmax === 8)?.run_id ?? '';
    resetRuns(db, [jc, jd]);
    const status = ok(await cliHere(['status', '--db', db]), 'status').stdout;
    assert.match(status, /^job 3 jc: pending/m);
    const resumed = ok(await cliHere(['resume', '--db', db, '--job', 'jc', '--no-report']), 'resume');
    assert.match(resumed.stderr, /resuming job 3 \(jc\): 0 of 1 runs done/);
    const after = new Map((await runsOf(db)).map((run) => [run.run_id, run.status]));
    assert.equal(after.get(jc), 'done');
    assert.equal(after.get(jd), 'pending');
    const done = ok(await cliHere(['resume', '--db', db, '--job', '1']), 'resume a done job');
    assert.match(done.stderr, /nothing to resume in .*: job 1 \(ja\) is done/);
    const last = ok(await cliHere(['resume', '--db', db, '--no-report']), 'resume');
    assert.match(last.stderr, /resuming job 4 \(jd\)/);
  });
});

describe('rm', () => {
  test('--run removes every row of that run from every table with a run_key, and nothing else', async () => {
    const db = copyOfBase();
    const reportOfShared = ok(await cliHere(['report', '--db', db, '--run', shared, '--format', 'json']), 'report').stdout;
    const reportJa = ok(await cliHere(['report', '--db', db, '--job', 'ja', '--format', 'json']), 'report').stdout;
    const gone = runKey(db, jbOnly);
    const kept = runKey(db, shared);
    const before = rowsByRunKey(db);
    for (const table of ['runs', 'run_taus', 'job_runs', 'shards', 'shard_depth', 'position_rows', 'count_blocks', 'pattern_peak_rows', 'run_tau_stats', 'run_depth']) {
      assert.ok((before.get(table)?.get(gone) ?? 0) > 0, `${table} has rows of the run before`);
    }
    const removed = ok(await cliHere(['rm', '--db', db, '--run', jbOnly.slice(0, 6)]), 'rm');
    assert.match(removed.stdout, new RegExp(`^deleted run ${jbOnly} \\(done, 63/63 positions\\)$`, 'm'));
    assert.match(removed.stdout, /^deleted 1 run \(63 committed positions\), 0 jobs, 0 models: /m);
    const afterRm = rowsByRunKey(db);
    assert.deepEqual([...afterRm.keys()], [...before.keys()]);
    for (const [table, rows] of before) {
      const left = afterRm.get(table) as Map<number, number>;
      assert.equal(left.get(gone), undefined, `${table}: no row of the deleted run`);
      assert.deepEqual(left, new Map([...rows].filter(([key]) => key !== gone)), `${table}: other runs' rows untouched`);
      assert.ok(rows.has(kept) === left.has(kept));
    }
    assert.deepEqual((await runsOf(db, ['--job', 'jb'])).map((run) => run.run_id), [shared]);
    // The remaining job's report: the same figures as before for its remaining run.
    assert.equal(ok(await cliHere(['report', '--db', db, '--job', 'jb', '--format', 'json']), 'report').stdout, reportOfShared);
    assert.equal(ok(await cliHere(['report', '--db', db, '--job', 'ja', '--format', 'json']), 'report').stdout, reportJa);
    assert.equal(count(db, 'PRAGMA foreign_key_check'), undefined, 'foreign keys hold');
    const again = await cliHere(['rm', '--db', db, '--run', jbOnly]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, new RegExp(`--run ${jbOnly}: no run with that id`));
    assertOneLine(again.stderr, 'rm again');
  });

  test('--job keeps the runs another job has; the last runs take their model with them', async () => {
    const db = copyOfBase();
    const removed = ok(await cliHere(['rm', '--db', db, '--job', 'jb']), 'rm --job');
    assert.match(removed.stdout, new RegExp(`^deleted run ${jbOnly} `, 'm'));
    assert.match(removed.stdout, new RegExp(`^kept run ${shared}: job 1 has it too$`, 'm'));
    assert.match(removed.stdout, /^deleted job 2 jb$/m);
    assert.deepEqual((await runsOf(db)).map((run) => run.run_id), [shared]);
    const jobs = JSON.parse(ok(await cliHere(['jobs', '--db', db, '--format', 'json']), 'jobs').stdout) as { name: string; runs: number }[];
    assert.deepEqual(jobs.map((job) => [job.name, job.runs]), [['ja', 1]]);
    assert.equal(count(db, 'SELECT count(*) FROM models'), 1);
    const last = ok(await cliHere(['rm', '--db', db, '--job', '1']), 'rm the last job');
    assert.match(last.stdout, /^deleted model \w{12} \(.*sat_model\.bin\): no run uses it any more$/m);
    for (const table of ['runs', 'jobs', 'job_runs', 'models', 'shards', 'count_blocks', 'position_rows']) assert.equal(count(db, `SELECT count(*) FROM ${table}`), 0, table);
    // The database still works: the job computes again.
    ok(await cliHere(['run', jobFile('ja', [5]), '--db', db, '--no-report']), 'run again');
  });

  test('--run for every run of a job removes the job too', async () => {
    const db = copyOfBase();
    const removed = ok(await cliHere(['rm', '--db', db, '--run', shared, '--run', jbOnly]), 'rm');
    assert.match(removed.stdout, /^deleted job 1 ja$/m);
    assert.match(removed.stdout, /^deleted job 2 jb$/m);
    assert.equal(count(db, 'SELECT count(*) FROM jobs'), 0);
  });

  test('tables a later schema adds, keyed by run_key or job_id, lose their rows too', async () => {
    const db = copyOfBase();
    const handle = new Database(db);
    handle.exec(`
      CREATE TABLE run_summaries (run_key INTEGER NOT NULL REFERENCES runs (run_key), value REAL);
      CREATE TABLE job_rollups (job_id INTEGER NOT NULL REFERENCES jobs (job_id), value REAL);
      CREATE TABLE summary_parts (run_key INTEGER NOT NULL, start INTEGER NOT NULL, FOREIGN KEY (run_key, start) REFERENCES shards (run_key, start));
      INSERT INTO run_summaries SELECT run_key, 1 FROM runs;
      INSERT INTO job_rollups SELECT job_id, 1 FROM jobs;
      INSERT INTO summary_parts SELECT run_key, start FROM shards;`);
    handle.close();
    const dry = ok(await cliHere(['rm', '--db', db, '--job', 'jb', '--dry-run']), 'dry run');
    assert.match(dry.stdout, /job_rollups 1/);
    assert.match(dry.stdout, /run_summaries 1/);
    ok(await cliHere(['rm', '--db', db, '--job', 'jb']), 'rm');
    assert.equal(count(db, 'SELECT count(*) FROM job_rollups'), 1);
    assert.equal(count(db, 'SELECT count(*) FROM run_summaries'), 1);
    assert.equal(count(db, `SELECT count(*) FROM summary_parts WHERE run_key <> (SELECT run_key FROM runs WHERE run_id = '${shared}')`), 0);
  });

  test('refused while another live process holds the writer lock: exit 1, nothing deleted', () => {
    const db = copyOfBase();
    const handle = new Database(db);
    // This test's own process: a live Node process that started before the lock was taken.
    handle.prepare(`INSERT INTO writer_lock (only_row, pid, host, command, started_at) VALUES (1, ?, ?, 'sparsetrace run (test)', ?)`).run(process.pid, hostname(), new Date().toISOString());
    handle.close();
    const before = rowsByRunKey(db);
    for (const args of [['--run', jbOnly], ['--job', 'jb']]) {
      const result = cli(['rm', '--db', db, ...args]);
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, new RegExp(`process ${process.pid} .* is writing it; wait for it to finish, stop it, or pass --wait`));
      assertOneLine(result.stderr, 'rm');
    }
    assert.deepEqual(rowsByRunKey(db), before);
    assert.equal(count(db, 'SELECT count(*) FROM jobs'), 2);
  });

  test('a run left running by a process that is gone is interrupted: it can be deleted', async () => {
    const db = copyOfBase();
    const handle = new Database(db);
    handle.prepare(`UPDATE runs SET status = 'running' WHERE run_id = ?`).run(jbOnly);
    // A pid that is not running (beyond the default pid_max).
    handle.prepare(`INSERT INTO writer_lock (only_row, pid, host, command, started_at) VALUES (1, 4194305, ?, 'sparsetrace run (killed)', '2026-01-01T00:00:00Z')`).run(hostname());
    handle.close();
    const removed = ok(await cliHere(['rm', '--db', db, '--run', jbOnly]), 'rm');
    assert.match(removed.stdout, new RegExp(`^deleted run ${jbOnly} \\(interrupted, 63/63 positions\\)$`, 'm'));
    assert.match(removed.stderr, /taking over the writer lock/);
    assert.equal(count(db, 'SELECT count(*) FROM writer_lock'), 0, 'lock released');
  });

  test('--dry-run deletes nothing; --vacuum shrinks the file', async () => {
    const db = copyOfBase();
    const bytes = readFileSync(db);
    const dry = ok(await cliHere(['rm', '--db', db, '--job', 'jb', '--dry-run']), 'dry run');
    assert.match(dry.stdout, new RegExp(`^would delete run ${jbOnly} `, 'm'));
    assert.match(dry.stdout, /^would delete 1 run \(63 committed positions\), 1 job, 0 models: \d+ rows \(/m);
    assert.deepEqual(readFileSync(db), bytes, 'unchanged');
    const size = statSync(db).size;
    const vacuumed = ok(await cliHere(['rm', '--db', db, '--job', 'jb', '--vacuum']), 'rm --vacuum');
    const freed = Number(/^vacuum: ([\d,]+) bytes freed/m.exec(vacuumed.stdout)?.[1].replace(/,/g, ''));
    assert.ok(freed > 0, vacuumed.stdout);
    assert.ok(statSync(db).size < size, 'the file shrank');
    // Without --vacuum a file made with schema 4 gives its freed pages back too (auto_vacuum = INCREMENTAL, on close).
    const other = copyOfBase();
    const otherSize = statSync(other).size;
    ok(await cliHere(['rm', '--db', other, '--job', 'jb']), 'rm');
    assert.ok(statSync(other).size < otherSize, 'the file shrank');
    const handle = new Database(other, { readonly: true });
    assert.equal(handle.pragma('freelist_count', { simple: true }), 0);
    handle.close();
  });

  test('names what to delete', async () => {
    const result = await cliHere(['rm', '--db', base]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /name what to delete with --run ID or --job ID/);
  });
});
