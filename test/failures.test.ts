/**
 * Failure paths, in the spirit of SQLite's own tests: bad inputs and faults
 * (a full disk, a read-only medium, a broken pipe, another process, a damaged
 * file) each end with the documented exit code and one line naming the thing,
 * never a stack trace, and leave every table of the database as it was.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, closeSync, rmSync, writeFileSync, writeSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { classify, BrokenPipeError, BusyError, CorruptStoreError, EnvironmentError, InputError } from '../src/errors.js';
import { AtomicFile } from '../src/cli/output.js';
import { runCommandLine } from '../src/cli/program.js';
import { closeDatabase, openDatabase, SCHEMA_VERSION, type Db } from '../src/store/index.js';
import { CHECKPOINT_PAGES, checkpointWal, readWal, verifyWal } from '../src/store/walGuard.js';
import { cli, cliHere, PROJECT_ROOT, SHARED_DATA, SHARED_MODEL, temporaryFolder } from './cli.js';

const folder = temporaryFolder('failures');
const db = join(folder.path, 'results.sqlite');
const BIN = join(PROJECT_ROOT, 'bin', 'sparsetrace.js');
/** A run of a short window (a few hundred rows); other lengths make other runs. */
const smallRun = (length = 40): string[] => ['--model', SHARED_MODEL, '--data', SHARED_DATA, '--length', String(length), '--no-report'];
const SMALL_RUN = smallRun();
/** A database whose export and SQL output are far larger than a pipe's buffer (64 KiB). */
const bigDb = join(folder.path, 'big.sqlite');
/** Whether this process may mount a small tmpfs (root with CAP_SYS_ADMIN): the full-disk and read-only tests need one. */
function tmpfsSkipReason(): string | false {
  if (process.getuid?.() !== 0) return 'not root: cannot mount a tmpfs for a full disk or a read-only medium (CI runs as root)';
  const probe = join(folder.path, 'mount-probe');
  mkdirSync(probe, { recursive: true });
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', probe]);
  if (mounted.status !== 0) return `root, but mount failed (no CAP_SYS_ADMIN?): ${String(mounted.stderr).trim()}`;
  spawnSync('umount', [probe]);
  return false;
}
const tmpfsSkip = tmpfsSkipReason();

/** A content hash of every table (rows sorted), and the schema: "the database unchanged". */
function contentHash(path: string): string {
  const handle = new Database(path, { readonly: true });
  try {
    const hash = createHash('sha256');
    const tables = handle.prepare(`SELECT name, sql FROM sqlite_schema WHERE type = 'table' ORDER BY name`).all() as { name: string; sql: string }[];
    for (const table of tables) {
      hash.update(`${table.name}\n${table.sql}\n`);
      const rows = handle.prepare(`SELECT * FROM "${table.name}"`).raw().all().map((row) => JSON.stringify(row, (_, v) => (Buffer.isBuffer(v) ? v.toString('hex') : v)));
      for (const row of rows.sort()) hash.update(`${row}\n`);
    }
    hash.update(`user_version ${handle.pragma('user_version', { simple: true })}`);
    return hash.digest('hex');
  } finally {
    handle.close();
  }
}

/** The files of a folder: what a read command must not add to. */
const filesIn = (path: string): string[] => readdirSync(path).sort();

function assertOneLine(stderr: string, context: string): void {
  assert.doesNotMatch(stderr, /\n\s+at /, `no stack trace (${context}): ${stderr}`);
  assert.equal(stderr.trimEnd().split('\n').length, 1, `one line (${context}): ${stderr}`);
}

before(async () => {
  const setup = await cliHere(['run', ...SMALL_RUN, '--db', db]);
  assert.equal(setup.code, 0, setup.stderr);
  const big = await cliHere(['run', ...smallRun(1024), '--db', bigDb]);
  assert.equal(big.code, 0, big.stderr);
  mkdirSync(join(folder.path, 'a-folder'));
  spawnSync('mkfifo', [join(folder.path, 'fifo')]);
  writeFileSync(join(folder.path, 'empty-grid.json'), JSON.stringify({ models: [SHARED_MODEL], data: [SHARED_DATA], tau: { from: 0.5, to: 0.6, perDecade: 1 } }));
  writeFileSync(join(folder.path, 'text.txt'), 'not a database\n');
  writeFileSync(join(folder.path, 'nested.json'), `${'['.repeat(200_000)}${']'.repeat(200_000)}`);
  writeFileSync(join(folder.path, 'fine-grid.json'), JSON.stringify({ models: [SHARED_MODEL], data: [SHARED_DATA], tau: { from: 1e-4, to: 1, perDecade: 1e9 } }));
  writeFileSync(join(folder.path, 'proc-db.json'), JSON.stringify({ models: [SHARED_MODEL], data: [{ path: SHARED_DATA, length: 40 }], db: '/proc/self/status' }));
  const foreign = new Database(join(folder.path, 'foreign.sqlite'));
  foreign.exec(`CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('mine')`);
  foreign.close();
  const foreignNewer = new Database(join(folder.path, 'foreign-newer.sqlite'));
  foreignNewer.exec(`CREATE TABLE notes (text TEXT); PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
  foreignNewer.close();
});
after(() => folder.remove());

interface Case {
  readonly name: string;
  readonly args: (dir: string) => string[];
  readonly code: number;
  readonly message: RegExp;
  /** Files whose content must not change (default: the results database). */
  readonly unchanged?: (dir: string) => string[];
  /** Files that must not exist afterwards. */
  readonly absent?: (dir: string) => string[];
  /** Run as a process (only a process shows that a FIFO does not block it); the others run in this process (runCommandLine). */
  readonly spawn?: true;
}

const CASES: readonly Case[] = [
  { name: 'run --db ""', args: () => ['run', ...SMALL_RUN, '--db', ''], code: 2, message: /--db: the database path is empty/ },
  { name: 'bare --db', args: () => ['run', ...SMALL_RUN, '--db'], code: 2, message: /Not enough arguments following: db .*sparsetrace run --help/ },
  { name: 'run --db :memory:', args: () => ['run', ...SMALL_RUN, '--db', ':memory:'], code: 2, message: /--db :memory:: results must go to a database file/ },
  { name: 'a flag without its value', args: () => ['run', '--length', '--db', db], code: 2, message: /Not enough arguments following: length/ },
  { name: 'a choice flag without its value', args: () => ['report', '--format', '--db', db], code: 2, message: /Not enough arguments following: format .*sparsetrace report --help/ },
  { name: 'a value not among the choices', args: () => ['report', '--format', 'colour', '--db', db], code: 2, message: /Invalid values: .*colour.* \(see `sparsetrace report --help`\)/ },
  { name: 'a --by key that is not one', args: () => ['report', '--by', 'window,colour', '--db', db], code: 2, message: /--by: "colour" is not a key .*\(see `sparsetrace report --help`\)/ },
  { name: 'a selection --dmax that is not a number', args: () => ['report', '--dmax', 'abc', '--db', db], code: 2, message: /--dmax: must be an integer ≥ 0, got something that is not a number/ },
  { name: '--never-tau 0', args: () => ['report', '--never-tau', '0', '--db', db], code: 2, message: /--never-tau: must be a number > 0/ },
  { name: '--never-tau rounding to 0 in float32', args: () => ['report', '--never-tau', '1e-60', '--db', db], code: 2, message: /--never-tau: 1e-60 rounds to 0 as a float32/ },
  { name: 'explain --tau rounding to 0 in float32', args: () => ['explain', '--t', '5', '--tau', '1e-50', '--db', db], code: 2, message: /--tau: 1e-50 rounds to 0 as a float32/ },
  { name: 'a repeated --tau', args: () => ['run', ...SMALL_RUN, '--tau', '0.1', '--tau', '0.2', '--db', db], code: 2, message: /--tau given 2 times; give it once/ },
  { name: 'a repeated --model', args: () => ['run', ...SMALL_RUN, '--model', SHARED_MODEL, '--db', db], code: 2, message: /--model given 2 times/ },
  { name: '--dmax 1e9', args: () => ['run', ...SMALL_RUN, '--dmax', '1e9', '--db', db], code: 2, message: /--dmax: must be an integer ≥ 0 and ≤ 65536/ },
  { name: 'τ rounding to 0 in float32', args: () => ['run', ...SMALL_RUN, '--tau', '0.1,1e-50', '--db', db], code: 2, message: /--tau\[1\]: 1e-50 rounds to 0 as a float32/ },
  { name: 'τ rounding to ∞ in float32', args: () => ['run', ...SMALL_RUN, '--tau', '1e39', '--db', db], code: 2, message: /rounds to infinity as a float32/ },
  { name: 'an empty τ grid', args: (dir) => ['run', join(dir, 'empty-grid.json'), '--db', db, '--no-report'], code: 2, message: /tau: the grid from 0\.5 to 0\.6 holds no threshold/ },
  { name: 'a FIFO as model', args: (dir) => ['run', '--model', join(dir, 'fifo'), '--data', SHARED_DATA, '--no-report', '--db', db], code: 2, message: /model .*fifo: not a regular file/, spawn: true },
  { name: 'a FIFO as data', args: (dir) => ['run', '--model', SHARED_MODEL, '--data', join(dir, 'fifo'), '--db', db], code: 2, message: /data .*fifo: not a regular file/, spawn: true },
  { name: 'a FIFO as job file', args: (dir) => ['run', join(dir, 'fifo'), '--db', db], code: 2, message: /job file .*fifo: not a regular file/, spawn: true },
  { name: 'a FIFO as database', args: (dir) => ['report', '--db', join(dir, 'fifo')], code: 2, message: /database .*fifo: not a regular file/, spawn: true },
  { name: 'a folder as database', args: (dir) => ['run', ...SMALL_RUN, '--db', join(dir, 'a-folder')], code: 2, message: /database .*a-folder: is a folder/ },
  {
    name: "run on someone else's SQLite file",
    args: (dir) => ['run', ...SMALL_RUN, '--db', join(dir, 'foreign.sqlite')],
    code: 2,
    message: /foreign\.sqlite: not a sparsetrace database \(a SQLite file with tables notes\); it is left unchanged/,
    unchanged: (dir) => [join(dir, 'foreign.sqlite')],
    absent: (dir) => [join(dir, 'foreign.sqlite-wal')],
  },
  {
    name: 'a foreign file with a user_version above ours is not "newer"',
    args: (dir) => ['run', ...SMALL_RUN, '--db', join(dir, 'foreign-newer.sqlite')],
    code: 2,
    message: /foreign-newer\.sqlite: not a sparsetrace database/,
    unchanged: (dir) => [join(dir, 'foreign-newer.sqlite')],
  },
  { name: 'report on a text file', args: (dir) => ['report', '--db', join(dir, 'text.txt')], code: 2, message: /text\.txt: not a SQLite database/, unchanged: (dir) => [join(dir, 'text.txt')] },
  { name: 'run on a text file', args: (dir) => ['run', ...SMALL_RUN, '--db', join(dir, 'text.txt')], code: 2, message: /text\.txt: not a SQLite database/, unchanged: (dir) => [join(dir, 'text.txt')] },
  { name: 'report on a missing database creates nothing', args: (dir) => ['report', '--db', join(dir, 'missing.sqlite')], code: 2, message: /missing\.sqlite: no such file/, absent: (dir) => [join(dir, 'missing.sqlite')] },
  { name: 'sql --write on a missing database creates nothing', args: (dir) => ['sql', '--write', 'SELECT 1', '--db', join(dir, 'missing.sqlite')], code: 2, message: /no such file/, absent: (dir) => [join(dir, 'missing.sqlite')] },
  { name: 'unlock on a missing database creates nothing', args: (dir) => ['unlock', '--db', join(dir, 'missing.sqlite')], code: 2, message: /no such file/, absent: (dir) => [join(dir, 'missing.sqlite')] },
  { name: 'export --out the database', args: () => ['export', '--db', db, '--out', db], code: 2, message: /--out .*: that is the database/ },
  { name: 'export --out its WAL', args: () => ['export', '--db', db, '--out', `${db}-wal`], code: 2, message: /that is the database/, absent: () => [`${db}-wal`] },
  { name: 'export --out a folder', args: (dir) => ['export', '--db', db, '--out', join(dir, 'a-folder')], code: 2, message: /--out .*a-folder: is a folder/ },
  { name: 'export --out into a missing folder', args: (dir) => ['export', '--db', db, '--out', join(dir, 'nope', 'x.csv')], code: 2, message: /--out .*x\.csv: cannot write: no such folder/ },
  { name: 'sql writing without --write', args: () => ['sql', 'DELETE FROM jobs', '--db', db], code: 2, message: /read-only; pass --write/ },
  {
    name: 'sql VACUUM INTO (a new file) without --write',
    args: (dir) => ['sql', `VACUUM INTO '${join(dir, 'copy.sqlite')}'`, '--db', db],
    code: 2,
    message: /sql: the statement writes \(the database is opened read-only; pass --write/,
    absent: (dir) => [join(dir, 'copy.sqlite')],
  },
  { name: "sql ATTACH of a missing file is the statement's fault", args: () => ['sql', `ATTACH '/missing.db' AS e`, '--db', db], code: 2, message: /^sparsetrace: sql: unable to open database: \/missing\.db$/m },
  { name: 'a job file of 200,000 nested arrays', args: (dir) => ['run', join(dir, 'nested.json'), '--db', db], code: 2, message: /nested\.json: \(top level\): arrays and objects nested more than 32 levels deep/ },
  { name: 'a τ grid of 10^9 per decade', args: (dir) => ['run', join(dir, 'fine-grid.json'), '--db', db], code: 2, message: /tau: the grid from 0\.0001 to 1 at 1000000000 per decade holds 4\.00e\+9 thresholds; at most 10000/ },
  { name: '--db /proc/self/status', args: () => ['run', ...SMALL_RUN, '--db', '/proc/self/status'], code: 2, message: /database \/proc\/self\/status: not a regular file \(it is \/proc\/\d+\/status, a file of the kernel or of a process\)/ },
  { name: 'report --db /proc/self/status', args: () => ['report', '--db', '/proc/self/status'], code: 2, message: /database \/proc\/self\/status: not a regular file/ },
  { name: 'a job file whose "db" is /proc/self/status', args: (dir) => ['run', join(dir, 'proc-db.json'), '--no-report'], code: 2, message: /database \/proc\/self\/status: not a regular file/ },
  { name: 'a bad SQL statement', args: () => ['sql', 'SELECT nope FROM counts', '--db', db], code: 2, message: /no such column: nope/ },
  { name: 'report --hist-tau outside html', args: () => ['report', '--format', 'md', '--hist-tau', '0.1', '--db', db], code: 2, message: /--hist-tau applies to --format html only \(the histogram on the page\); leave it out with --format md/ },
  { name: 'report --explain outside html', args: () => ['report', '--explain', '5', '--db', db], code: 2, message: /--explain applies to --format html only .*sparsetrace explain --t T/ },
  { name: 'report --explain-tau outside html', args: () => ['report', '--format', 'csv', '--explain-tau', '0.1', '--db', db], code: 2, message: /--explain-tau applies to --format html only/ },
  { name: 'report --out the database', args: () => ['report', '--format', 'md', '--db', db, '--out', db], code: 2, message: /--out .*: that is the database/ },
  { name: 'report --out into a missing folder', args: (dir) => ['report', '--format', 'csv', '--db', db, '--out', join(dir, 'nope', 'r.csv')], code: 2, message: /--out .*r\.csv: cannot write: no such folder/ },
  { name: 'explain --out the database', args: () => ['explain', '--t', '5', '--db', db, '--out', db], code: 2, message: /--out .*: that is the database/ },
  { name: 'sql --attach writing to the attached file', args: () => ['sql', '--attach', `other=${db}`, 'DELETE FROM other.jobs', '--db', db], code: 2, message: /the statement writes \(the database and the --attach files are opened read-only/ },
  { name: 'sql --attach with --write', args: () => ['sql', '--write', '--attach', `other=${db}`, 'SELECT 1', '--db', db], code: 2, message: /--attach: attached databases are read-only, so --attach works without --write only/ },
  { name: 'sql --attach without a name', args: () => ['sql', '--attach', db, 'SELECT 1', '--db', db], code: 2, message: /--attach .*: give NAME=FILE/ },
  { name: 'sql --attach with a name that is not an identifier', args: () => ['sql', '--attach', `a-b=${db}`, 'SELECT 1', '--db', db], code: 2, message: /the name "a-b" must be letters, digits and _/ },
  { name: 'sql --attach main', args: () => ['sql', '--attach', `MAIN=${db}`, 'SELECT 1', '--db', db], code: 2, message: /MAIN names the database itself in SQL/ },
  { name: 'sql --attach a name twice', args: () => ['sql', '--attach', `o=${db}`, '--attach', `O=${db}`, 'SELECT 1', '--db', db], code: 2, message: /the name O is given twice/ },
  { name: 'sql --attach a missing file creates nothing', args: (dir) => ['sql', '--attach', `o=${join(dir, 'missing.sqlite')}`, 'SELECT 1', '--db', db], code: 2, message: /missing\.sqlite: no such file/, absent: (dir) => [join(dir, 'missing.sqlite')] },
  { name: 'sql --attach a text file', args: (dir) => ['sql', '--attach', `t=${join(dir, 'text.txt')}`, 'SELECT 1', '--db', db], code: 2, message: /text\.txt: not a SQLite database/, unchanged: (dir) => [join(dir, 'text.txt')] },
];

describe('bad inputs: exit code, one line, the database unchanged', () => {
  for (const entry of CASES) {
    test(entry.name, async () => {
      const dir = folder.path;
      const watched = entry.unchanged?.(dir) ?? [db];
      const before = watched.map((path) => (path.endsWith('.txt') ? readFileSync(path, 'hex') : contentHash(path)));
      const beforeFiles = filesIn(dir);
      let result: { status: number | null; stderr: string };
      if (entry.spawn) {
        const spawned = spawnSync(process.execPath, [BIN, ...entry.args(dir)], { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 30_000 });
        assert.equal(spawned.signal, null, `ended by itself (a FIFO must not block): ${spawned.stderr}`);
        result = spawned;
      } else {
        let stderr = '';
        const status = await runCommandLine(entry.args(dir), { out: () => undefined, err: (text) => (stderr += text) });
        result = { status, stderr };
      }
      assert.equal(result.status, entry.code, result.stderr);
      assert.match(result.stderr, entry.message);
      assertOneLine(result.stderr, entry.name);
      const afterHashes = watched.map((path) => (path.endsWith('.txt') ? readFileSync(path, 'hex') : contentHash(path)));
      assert.deepEqual(afterHashes, before, 'unchanged');
      for (const path of entry.absent?.(dir) ?? []) assert.equal(existsSync(path), false, `${path} not created`);
      assert.deepEqual(filesIn(dir), beforeFiles, 'no file created or left behind');
    });
  }
});

describe('other processes and the writer lock', () => {
  /** Records a lock held by `pid` since `startedAt` (default now), as a run would. */
  function lockAs(path: string, pid: number, host = hostname(), startedAt = new Date().toISOString()): void {
    const handle = new Database(path);
    handle.prepare(`INSERT OR REPLACE INTO writer_lock (only_row, pid, host, command, started_at) VALUES (1, ?, ?, 'sparsetrace run (test)', ?)`).run(pid, host, startedAt);
    handle.close();
  }
  function unlockAll(path: string): void {
    const handle = new Database(path);
    handle.exec('DELETE FROM writer_lock');
    handle.close();
  }

  test('sql --write, run and unlock are refused while a live process holds the lock; the database is unchanged', () => {
    // This test's own process is a live Node process that started before the lock was taken.
    lockAs(db, process.pid);
    try {
      const before = contentHash(db);
      for (const args of [['sql', '--write', 'DELETE FROM counts'], ['run', ...smallRun(50)], ['unlock']]) {
        const result = cli([...args, '--db', db]);
        assert.equal(result.code, 1, result.stderr);
        assert.match(result.stderr, new RegExp(`process ${process.pid}`));
        assert.match(result.stderr, args[0] === 'unlock' ? /is alive and holds the writer lock; stop it/ : /is writing it; wait for it to finish, stop it, or pass --wait/);
        assertOneLine(result.stderr, args[0]);
      }
      assert.equal(contentHash(db), before);
      const status = cli(['status', '--db', db]);
      assert.match(status.stdout, new RegExp(`being written by process ${process.pid}`));
    } finally {
      unlockAll(db);
    }
  });

  test('a lock whose pid was reused by a process started after it (a reboot) is stale', () => {
    lockAs(db, process.pid, hostname(), '2000-01-01T00:00:00.000Z');
    try {
      const status = cli(['status', '--db', db]);
      // The lock's pid now names another process: the writer that took the lock is gone.
      assert.match(status.stdout, new RegExp(`: the writer \\(pid ${process.pid} on ${hostname()}, sparsetrace run \\(test\\), since 2000-01-01T00:00:00.000Z\\) is gone`));
      assert.doesNotMatch(status.stdout, /no live writer/);
      const unlock = cli(['unlock', '--db', db]);
      assert.equal(unlock.code, 0, unlock.stderr);
      assert.match(unlock.stderr, new RegExp(`removed the writer lock of process ${process.pid} on ${hostname()}`));
    } finally {
      unlockAll(db);
    }
  });

  test('sql --write that dropped writer_lock: the table comes back at once, and a writer recreates it if it is still gone', async () => {
    const copy = join(folder.path, 'dropped-lock.sqlite');
    copyFileSync(db, copy);
    const tables = (path: string): string[] => {
      const handle = new Database(path, { readonly: true });
      try {
        return handle.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`).pluck().all() as string[];
      } finally {
        handle.close();
      }
    };
    const drop = await cliHere(['sql', '--write', 'DROP TABLE writer_lock', '--db', copy]);
    assert.equal(drop.code, 0, drop.stderr);
    assert.match(drop.stderr, /note: writer_lock of .*dropped-lock\.sqlite was dropped; it is back \(empty\)/);
    assert.ok(tables(copy).includes('writer_lock'));
    // Dropped by another client (the sqlite3 shell): the next writer recreates it, and works.
    const handle = new Database(copy);
    handle.exec('DROP TABLE writer_lock');
    handle.close();
    const status = await cliHere(['status', '--db', copy]);
    assert.equal(status.code, 0, status.stderr);
    const run = await cliHere(['run', ...smallRun(50), '--db', copy]);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(tables(copy).includes('writer_lock'));
    const second = await cliHere(['sql', '--write', 'DELETE FROM jobs WHERE 0', '--db', copy]);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stderr.trim(), '(0 rows changed)', 'the lock taken and released as usual');
  });

  test('two runs on a new database: one creates it, both finish (no "table already exists")', async () => {
    const fresh = join(folder.path, 'race.sqlite');
    const start = () =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [BIN, 'run', ...SMALL_RUN, '--db', fresh, '--wait'], { cwd: PROJECT_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.on('exit', (code) => resolve({ code, stderr }));
      });
    const results = await Promise.all([start(), start()]);
    for (const result of results) assert.equal(result.code, 0, result.stderr);
    const handle = new Database(fresh, { readonly: true });
    assert.deepEqual(handle.prepare(`SELECT status FROM runs`).all(), [{ status: 'done' }]);
    handle.close();
  });
});

describe('damaged files', () => {
  test('a damaged page at report time: exit 1, one line naming the database', async () => {
    const copy = join(folder.path, 'damaged.sqlite');
    copyFileSync(db, copy);
    const size = statSync(copy).size;
    const fd = openSync(copy, 'r+');
    // Overwrite the pages after the schema with garbage.
    writeSync(fd, Buffer.alloc(size - 8192, 0xa5), 0, size - 8192, 8192);
    closeSync(fd);
    const report = await cliHere(['report', '--db', copy]);
    assert.equal(report.code, 1, report.stderr);
    assert.match(report.stderr, /damaged\.sqlite: the database file is damaged/);
    assertOneLine(report.stderr, 'damaged');
  });
});

describe('a database and its write-ahead log (-wal)', () => {
  const dir = join(folder.path, 'wal');
  let serial = 0;
  before(() => mkdirSync(dir));

  /** Records a job named `name` (the one job of these databases). */
  const setJob = (handle: Db, name: string): void => {
    handle
      .prepare(`INSERT INTO jobs (name, job_sha256, spec_json, created_at) VALUES (?, 'the-job', '{}', 'now') ON CONFLICT (job_sha256) DO UPDATE SET name = excluded.name`)
      .run(name);
  };
  /** A new database holding one job named `name`, closed as writers close it (at rest). */
  function database(name: string): string {
    const path = join(dir, `${name}-${++serial}.sqlite`);
    const handle = openDatabase(path);
    setJob(handle, name);
    closeDatabase(handle);
    return path;
  }
  function jobName(path: string): string {
    const handle = openDatabase(path, { readonly: true });
    try {
      return handle.prepare('SELECT name FROM jobs').pluck().get() as string;
    } finally {
      closeDatabase(handle);
    }
  }
  /** What a writer killed now would leave (no transaction is open): its file and -wal, copied to `to`. */
  function crashImage(from: string, to: string): void {
    copyFileSync(from, to);
    copyFileSync(`${from}-wal`, `${to}-wal`);
  }
  /** Renames the job of `path` to `name` in a writer session killed after that commit; its files are copied to `to`. */
  function killedAfter(path: string, name: string, to: string): void {
    const handle = openDatabase(path);
    setJob(handle, name);
    crashImage(path, to);
    closeDatabase(handle);
  }
  const refused = (path: string) => (error: unknown) =>
    error instanceof InputError && error.message.includes(`database ${path}: its write-ahead log ${path}-wal does not belong to it`);
  const salt = (path: string): string => readFileSync(`${path}-wal`).subarray(16, 24).toString('hex');

  test("another database's -wal beside a database: refused before anything is read (exit 2, one line naming both files), nothing changed", async () => {
    const a = database('a');
    const b = database('b');
    const killedB = join(dir, 'b-killed.sqlite');
    killedAfter(b, 'b-later', killedB);
    copyFileSync(`${killedB}-wal`, `${a}-wal`);
    const bytes = [readFileSync(a), readFileSync(`${a}-wal`)];
    assert.throws(() => openDatabase(a, { readonly: true }), refused(a));
    assert.throws(() => openDatabase(a), refused(a));
    for (const args of [['report'], ['sql', 'SELECT name FROM jobs'], ['status'], ['run', ...SMALL_RUN]]) {
      const result = await cliHere([...args, '--db', a]);
      assert.equal(result.code, 2, `${args[0]}: ${result.stderr}`);
      assert.match(result.stderr, /\(a link to another state of the file\): it is another database's log, or this file was restored from a copy older than the log; nothing was read or changed/);
      assert.ok(result.stderr.includes(`move ${a}-wal and ${a}-shm aside to use the file as it is`), result.stderr);
      assertOneLine(result.stderr, args[0]);
    }
    assert.deepEqual([readFileSync(a), readFileSync(`${a}-wal`)], bytes, 'both files as they were');
    assert.equal(existsSync(`${a}-shm`), false, 'no -shm made');
    rmSync(`${a}-wal`);
    assert.equal(jobName(a), 'a', 'without the stray log, the database as it was');
    assert.equal(jobName(killedB), 'b-later', 'the log beside its own file is replayed');
  });

  test('a database restored from a copy older than its -wal: refused; the killed writer\'s own files read back all it committed', () => {
    const a = database('a');
    const backup = join(dir, 'a-backup.sqlite');
    copyFileSync(a, backup);
    const session = openDatabase(a);
    setJob(session, 'a-2');
    closeDatabase(session);
    const killed = join(dir, 'a-killed.sqlite');
    killedAfter(a, 'a-3', killed);
    const restored = join(dir, 'a-restored.sqlite');
    copyFileSync(backup, restored);
    copyFileSync(`${killed}-wal`, `${restored}-wal`);
    assert.throws(() => openDatabase(restored, { readonly: true }), refused(restored));
    assert.throws(() => openDatabase(restored), refused(restored));
    const readBack = openDatabase(killed, { readonly: true });
    assert.equal(readBack.prepare('SELECT name FROM jobs').pluck().get(), 'a-3', 'nothing committed is lost');
    closeDatabase(readBack);
    assert.equal(existsSync(`${killed}-wal`), false, 'the read folded the log into the file');
    assert.equal(existsSync(`${killed}-shm`), false);
    assert.equal(readFileSync(killed)[18], 1, 'rollback mode');
  });

  test('the -wal of a SQLite file that is not ours (no link at all, or pages of another size): refused', () => {
    const a = database('a');
    for (const pageSize of [4096, 8192]) {
      const other = join(dir, `plain-${pageSize}.sqlite`);
      const plain = new Database(other);
      plain.pragma(`page_size = ${pageSize}`);
      plain.pragma('journal_mode = WAL');
      plain.pragma('wal_autocheckpoint = 0');
      plain.exec(`CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('mine')`);
      copyFileSync(`${other}-wal`, `${a}-wal`);
      plain.close();
      assert.throws(
        () => openDatabase(a, { readonly: true }),
        (error: unknown) => refused(a)(error) && (error as Error).message.includes(pageSize === 4096 ? '(no link to this file)' : "(pages of 8192 bytes, the file's are of 4096)"),
      );
      rmSync(`${a}-wal`);
    }
    assert.equal(jobName(a), 'a');
  });

  test("a byte copy of a database, written afterwards, keeps logs of its own: the copy's -wal beside the original is refused", () => {
    const a = database('a');
    const copy = join(dir, 'a-copy.sqlite');
    copyFileSync(a, copy);
    const killedCopy = join(dir, 'copy-killed.sqlite');
    killedAfter(copy, 'copy-later', killedCopy);
    copyFileSync(`${killedCopy}-wal`, `${a}-wal`);
    assert.throws(() => openDatabase(a, { readonly: true }), refused(a));
    rmSync(`${a}-wal`);
    assert.equal(jobName(killedCopy), 'copy-later');
  });

  test('the link holds through checkpoints, logs started over and logs that could not start over (a reader): every kill reads back what was committed', () => {
    const path = database('steps');
    const writer = openDatabase(path);
    try {
      writer.exec('CREATE TABLE scratch (k INTEGER PRIMARY KEY, bytes BLOB)');
      const insert = writer.prepare('INSERT INTO scratch (bytes) VALUES (randomblob(20000))');
      let restarts = 0;
      for (let step = 1; step <= 12; step++) {
        insert.run();
        if (step % 3 === 0) {
          const before = salt(path);
          // At step 6 a reader holds a snapshot: the log is copied, but cannot start over.
          const reader = step === 6 ? new Database(path, { readonly: true }) : undefined;
          reader?.exec('BEGIN');
          reader?.prepare('SELECT count(*) FROM scratch').get();
          assert.equal(checkpointWal(writer), true, 'copied entirely: a new link opened');
          reader?.exec('COMMIT');
          reader?.close();
          insert.run();
          if (salt(path) !== before) restarts++;
          else assert.equal(step, 6, 'only the reader keeps the log from starting over');
        }
        const killed = join(dir, `steps-killed-${step}.sqlite`);
        crashImage(path, killed);
        const content = readWal(readFileSync(`${killed}-wal`), 0);
        assert.ok(content !== undefined && content.committedFrames > 0, 'the kill left commits in the log');
        assert.doesNotThrow(() => verifyWal(killed));
        const readBack = openDatabase(killed, { readonly: true });
        assert.equal(readBack.prepare('SELECT count(*) FROM scratch').pluck().get(), step + Math.floor(step / 3));
        closeDatabase(readBack);
        assert.deepEqual(readdirSync(dir).filter((name) => name.startsWith(`steps-killed-${step}.`)), [`steps-killed-${step}.sqlite`], 'the log folded in');
      }
      assert.equal(restarts, 3);
    } finally {
      closeDatabase(writer);
    }
  });

  test('a writer checkpoints by itself once its log has grown by CHECKPOINT_PAGES pages, and the log it starts over links to the file', async () => {
    const path = database('upkeep');
    const writer = openDatabase(path);
    try {
      writer.exec('CREATE TABLE scratch (k INTEGER PRIMARY KEY, bytes BLOB)');
      const first = salt(path);
      const insert = writer.prepare('INSERT INTO scratch (bytes) VALUES (randomblob(500000))');
      // Rows of 500 KB, past the threshold.
      const rows = Math.ceil((4096 * CHECKPOINT_PAGES) / 500_000) + 2;
      for (let k = 0; k < rows; k++) insert.run();
      assert.ok(statSync(`${path}-wal`).size > 4096 * CHECKPOINT_PAGES, 'no automatic checkpoint inside SQLite');
      // The connection looks at its log four times a second, between transactions.
      const deadline = Date.now() + 10_000;
      while (salt(path) === first && Date.now() < deadline) await new Promise((done) => setTimeout(done, 50));
      assert.notEqual(salt(path), first, 'the log started over');
      insert.run();
      const killed = join(dir, 'upkeep-killed.sqlite');
      crashImage(path, killed);
      const readBack = openDatabase(killed, { readonly: true });
      assert.equal(readBack.prepare('SELECT count(*) FROM scratch').pluck().get(), rows + 1);
      closeDatabase(readBack);
    } finally {
      closeDatabase(writer);
    }
    assert.equal(existsSync(`${path}-wal`), false, 'closed in rollback mode, as before');
  });

  test('kill -9 of a run: the first read (report, sql) folds its log into the file, back in rollback mode, nothing lost; reads during the run are never refused', async () => {
    const path = join(dir, 'killed-run.sqlite');
    const job = join(dir, 'killed-run.json');
    // 42 runs of 199 positions: several seconds on one thread, so the kill lands inside it.
    writeFileSync(job, JSON.stringify({ name: 'killed', models: [SHARED_MODEL], data: [{ path: SHARED_DATA, length: 200, stride: 40, count: 'all' }], dmax: [10, 30], tau: [0.01, 0.1] }));
    const child = spawn(process.execPath, [BIN, 'run', job, '--db', path, '--no-report', '--shard-size', '20', '--threads', '1'], { cwd: PROJECT_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let reads = 0;
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_, signal) => resolve(signal)));
    await new Promise<void>((resolve) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (/^run 2\/\d+: /m.test(stderr)) resolve();
      });
    });
    // Reads while it writes: each checks the log (the writer's own) and is never refused.
    for (const stop = Date.now() + 1000; Date.now() < stop; reads++) {
      const reader = openDatabase(path, { readonly: true });
      reader.prepare('SELECT count(*) FROM shards').get();
      closeDatabase(reader);
      await new Promise((done) => setImmediate(done));
    }
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL', stderr);
    assert.ok(reads > 0);
    assert.ok(existsSync(`${path}-wal`), 'the kill left the log');
    const copy = join(dir, 'killed-run-copy.sqlite');
    crashImage(path, copy);
    const plain = new Database(copy, { readonly: true });
    const committed = plain.prepare('SELECT sum(count) FROM shards').pluck().get() as number;
    plain.close();
    assert.ok(committed > 0);
    const sql = await cliHere(['sql', 'SELECT sum(count) AS n FROM shards', '--format', 'csv', '--db', path]);
    assert.equal(sql.code, 0, sql.stderr);
    assert.equal(sql.stdout, `n\n${committed}\n`, 'every committed shard is there');
    assert.equal(existsSync(`${path}-wal`), false, 'no -wal left');
    assert.equal(existsSync(`${path}-shm`), false, 'no -shm left');
    assert.equal(readFileSync(path)[18], 1, 'rollback mode (header byte 18)');
    const resumed = await cliHere(['resume', '--db', path, '--no-report']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, new RegExp(`, ${committed} already computed`));
  });
});

describe('outputs that are not files', () => {
  test('--db /dev/stdout with stdout redirected to a file: refused (exit 2), no database written into the output', () => {
    const output = join(folder.path, 'stdout.bin');
    const fd = openSync(output, 'w');
    const result = spawnSync(process.execPath, [BIN, 'run', ...SMALL_RUN, '--db', '/dev/stdout'], { cwd: PROJECT_ROOT, encoding: 'utf8', stdio: ['ignore', fd, 'pipe'] });
    closeSync(fd);
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /database \/dev\/stdout: not a regular file \(it is \/proc\/\d+\/fd\/1, a file of the kernel or of a process\)/);
    assertOneLine(result.stderr, '/dev/stdout');
    assert.equal(statSync(output).size, 0, 'nothing written to the output');
  });

  test('a model of finite weights ±3e38: refused at its first non-finite result (exit 2, one line naming it and why), no internal error', async () => {
    const hidden = 2;
    const values = new Float32Array(hidden * hidden + 513 * hidden + 256).map((_, k) => (k % 3 === 0 ? -3e38 : 3e38));
    const model = join(folder.path, 'huge.bin');
    writeFileSync(model, new Uint8Array(values.buffer));
    const target = join(folder.path, 'huge.sqlite');
    const result = await cliHere(['run', '--model', model, '--data', SHARED_DATA, '--length', '100', '--no-report', '--db', target]);
    assert.equal(result.code, 2, result.stderr);
    const last = result.stderr.trimEnd().split('\n').at(-1) as string;
    assert.ok(last.startsWith(`sparsetrace: model ${model}: at t = `), last);
    assert.match(last, /at t = 0 of .*enwik_1024\.txt \(bytes 0\+100\) the depth mass is NaN, because the backward trace overflows float32; its weights are too large for the float32 and double arithmetic/);
    assert.doesNotMatch(result.stderr, /internal error|NOT NULL|\n\s+at /);
    const handle = new Database(target, { readonly: true });
    assert.equal(handle.prepare(`SELECT count(*) FROM shards`).pluck().get(), 0, 'no non-finite row stored');
    assert.equal(handle.prepare(`SELECT count(*) FROM writer_lock`).pluck().get(), 0, 'lock released');
    handle.close();
  });
});

describe('broken pipes', () => {
  /** Runs a shell pipeline and returns the exit code of its first command and its stderr. */
  function pipeline(command: string): { code: number; stderr: string } {
    const script = `${command}; echo "exit=\${PIPESTATUS[0]}" >&2`;
    const result = spawnSync('bash', ['-c', script], { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 120_000 });
    const code = Number(/exit=(\d+)\s*$/.exec(result.stderr)?.[1]);
    return { code, stderr: result.stderr.replace(/exit=\d+\s*$/, '') };
  }
  const node = `"${process.execPath}" "${BIN}"`;

  for (const [name, args] of [
    ['report', `report --db "${bigDb}"`],
    ['export', `export --db "${bigDb}"`],
    ['sql', `sql "SELECT * FROM counts" --db "${bigDb}"`],
    ['sql csv', `sql "SELECT * FROM depth_mass" --format csv --db "${bigDb}"`],
    ['sql json', `sql "SELECT * FROM depth_mass" --format json --db "${bigDb}"`],
  ]) {
    test(`${name} | head: exit 0, nothing on stderr`, () => {
      // head -c 0 exits at once: the command meets a closed pipe at its first (or a later) write.
      const result = pipeline(`${node} ${args} | head -c 0`);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stderr, '');
    });
  }

  test('sql | a slow reader: stdout, a pipe, is written in blocking mode (Node\'s stream makes it non-blocking) and every byte arrives', () => {
    // The reader waits until the command, its pipe full, sits in write(2) on fd 1 (Linux's write syscall number:
    // 1 on x64, 64 on arm64; the main thread's syscall, /proc/PID/syscall), at most 10 s; then the flags of the
    // command's stdout (O_NONBLOCK is 04000, octal) are read, and the reader counts what reaches it. Polled
    // non-blocking, the command's main thread would sit in futex (Atomics.wait) between tries instead.
    const write = { x64: 1, arm64: 64 }[process.arch as 'x64' | 'arm64'] ?? -1;
    const marker = join(folder.path, 'slow-reader-go');
    const script =
      `( ${node} sql "SELECT * FROM counts" --db "${bigDb}" 2>/dev/null & pid=$!; ` +
      `for i in $(seq 100); do read -r nr fd rest < /proc/$pid/syscall 2>/dev/null; [ "$nr $fd" = "${write} 0x1" ] && break; sleep 0.1; done; ` +
      `echo "syscall: $nr $fd" >&2; grep '^flags' /proc/$pid/fdinfo/1 >&2; touch "${marker}"; wait ) | ` +
      `(while [ ! -e "${marker}" ]; do sleep 0.1; done; wc -c >&2)`;
    const result = spawnSync('bash', ['-c', script], { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 120_000 });
    const flags = /^flags:\s+([0-7]+)$/m.exec(result.stderr);
    assert.ok(flags !== null, result.stderr);
    assert.equal(parseInt(flags[1], 8) & 0o4000, 0, `flags ${flags[1]}: O_NONBLOCK set (${result.stderr.trim()})`);
    if (write > 0) assert.match(result.stderr, new RegExp(`^syscall: ${write} 0x1$`, 'm'), 'waiting in write(2) on stdout');
    const direct = spawnSync(process.execPath, [BIN, 'sql', 'SELECT * FROM counts', '--db', bigDb], { cwd: PROJECT_ROOT, encoding: 'utf8', maxBuffer: 1 << 30 });
    assert.ok(Buffer.byteLength(direct.stdout) > 65_536, 'more than a pipe holds');
    assert.equal(Number(/^\s*(\d+)\s*$/m.exec(result.stderr)?.[1]), Buffer.byteLength(direct.stdout), 'every byte through the pipe');
  });

  test('run 2>&1 | head: the run stops cleanly, stays resumable, and the lock is released', async () => {
    const piped = join(folder.path, 'piped.sqlite');
    const job = join(folder.path, 'piped.json');
    writeFileSync(job, JSON.stringify({ name: 'piped', models: [SHARED_MODEL], data: [{ path: SHARED_DATA, length: 100, stride: 100, count: 8 }], tau: [0.01] }));
    const result = pipeline(`${node} run "${job}" --db "${piped}" --threads 1 2>&1 | head -n 1 > /dev/null`);
    assert.equal(result.code, 0, result.stderr);
    const handle = new Database(piped, { readonly: true });
    const lock = handle.prepare('SELECT count(*) AS n FROM writer_lock').get() as { n: number };
    handle.close();
    assert.equal(lock.n, 0, 'lock released');
    const resumed = await cliHere(['resume', '--db', piped, '--no-report']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.doesNotMatch(resumed.stderr, /taking over/);
    const status = await cliHere(['status', '--db', piped]);
    assert.match(status.stdout, /8\/8 runs done/);
  });
});

describe('a full disk and read-only media (a small tmpfs; needs root)', { skip: tmpfsSkip }, () => {
  const mountPoint = join(folder.path, 'mnt');
  const mount = (options: string) => execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', mountPoint]);
  const unmount = () => spawnSync('umount', [mountPoint]);
  before(() => mkdirSync(mountPoint));
  after(unmount);

  test('export --out onto a full disk: exit 1, one line, no file left', async () => {
    mount('size=64k');
    try {
      const target = join(mountPoint, 'out.csv');
      const result = await cliHere(['export', '--db', bigDb, '--out', target]);
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /--out .*out\.csv: the disk is full \(ENOSPC\); nothing was written/);
      assertOneLine(result.stderr, 'export full disk');
      assert.deepEqual(readdirSync(mountPoint), []);
      const redirected = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" export --db "${bigDb}" > "${target}"`], { encoding: 'utf8' });
      assert.equal(redirected.status, 1, redirected.stderr);
      assert.match(redirected.stderr, /stdout: the disk is full \(ENOSPC\); the output is incomplete/);
    } finally {
      unmount();
    }
  });

  test('run onto a full disk: exit 1, one line, committed shards kept, lock released, resumable once there is room', async () => {
    mount('size=1m');
    try {
      const target = join(mountPoint, 'full.sqlite');
      const result = await cliHere(['run', '--model', SHARED_MODEL, '--data', SHARED_DATA, '--no-report', '--db', target, '--shard-size', '16', '--threads', '1']);
      assert.equal(result.code, 1, result.stderr);
      const last = result.stderr.trimEnd().split('\n').at(-1) as string;
      assert.match(last, /full\.sqlite: the disk is full .*every shard committed before is kept.*sparsetrace resume --db/);
      assert.doesNotMatch(result.stderr, /\n\s+at /);
      const handle = new Database(target, { readonly: true });
      assert.equal((handle.prepare('SELECT count(*) AS n FROM writer_lock').get() as { n: number }).n, 0, 'lock released');
      assert.equal(handle.pragma('integrity_check', { simple: true }), 'ok');
      const committed = (handle.prepare('SELECT count(*) AS n FROM shards').get() as { n: number }).n;
      handle.close();
      execFileSync('mount', ['-o', 'remount,size=64m', mountPoint]);
      const resumed = await cliHere(['resume', '--db', target, '--no-report']);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.match(resumed.stderr, new RegExp(`${committed * 16} already computed`), 'the committed shards were kept');
    } finally {
      unmount();
    }
  });

  test('a read-only medium: every read command works and creates no file; writers are refused with one line', async () => {
    mount('size=64m');
    try {
      const target = join(mountPoint, 'ro.sqlite');
      copyFileSync(db, target);
      execFileSync('mount', ['-o', 'remount,ro', mountPoint]);
      for (const args of [['report'], ['export'], ['status'], ['runs'], ['sql', 'SELECT count(*) FROM counts']]) {
        const result = await cliHere([...args, '--db', target]);
        assert.equal(result.code, 0, `${args[0]}: ${result.stderr}`);
        // What the same command prints from the writable original: the medium changes nothing read.
        const original = await cliHere([...args, '--db', db]);
        assert.equal(original.code, 0, original.stderr);
        assert.ok(original.stdout.trim() !== '', `${args[0]} prints something`);
        assert.equal(result.stdout.replaceAll(target, db), original.stdout, args[0]!);
      }
      assert.deepEqual(readdirSync(mountPoint), ['ro.sqlite'], 'no -wal/-shm created');
      for (const args of [['run', ...smallRun(50)], ['sql', '--write', 'DELETE FROM counts']]) {
        const result = await cliHere([...args, '--db', target]);
        assert.equal(result.code, 1, result.stderr);
        assert.match(result.stderr, /cannot be written \(a read-only file, folder or media; report, export, sql, status and runs still read it\)/);
        assertOneLine(result.stderr, args[0]);
      }
    } finally {
      unmount();
    }
  });
});

describe('layers in-process', () => {
  test('system and SQLite errors map to the error classes and exit codes', () => {
    const errno = (code: string) => Object.assign(new Error(code), { code });
    assert.ok(classify(errno('ENOSPC'), 'x') instanceof EnvironmentError);
    assert.ok(classify(errno('EPIPE')) instanceof BrokenPipeError);
    assert.equal(classify(errno('EPIPE'))?.exitCode, 0);
    assert.ok(classify(errno('SQLITE_BUSY')) instanceof BusyError);
    assert.ok(classify(errno('SQLITE_CORRUPT')) instanceof CorruptStoreError);
    assert.ok(classify(errno('SQLITE_IOERR_WRITE')) instanceof EnvironmentError);
    assert.equal(classify(new InputError('x'))?.exitCode, 2);
    assert.equal(classify(new TypeError('a bug')), undefined, 'a bug is not dressed up as a user error');
  });

  test('AtomicFile: nothing under the name until commit; abandon leaves nothing; the database is protected', () => {
    const dir = join(folder.path, 'atomic');
    mkdirSync(dir);
    const target = join(dir, 'out.csv');
    const file = new AtomicFile(target, '--out', [db]);
    file.write('a,b\n');
    assert.equal(existsSync(target), false);
    file.commit();
    assert.equal(readFileSync(target, 'utf8'), 'a,b\n');
    const second = new AtomicFile(target, '--out');
    second.write('partial');
    second.abandon();
    assert.equal(readFileSync(target, 'utf8'), 'a,b\n', 'the old file is intact');
    assert.deepEqual(readdirSync(dir), ['out.csv']);
    assert.throws(() => new AtomicFile(`${db}-shm`, '--out', [db]), /that is the database/);
    assert.throws(() => new AtomicFile(join(folder.path, '.', 'results.sqlite'), '--out', [db]), /that is the database/);
  });

  test("openDatabase leaves someone else's file exactly as it was, bytes included", () => {
    const foreign = join(folder.path, 'foreign.sqlite');
    const bytes = readFileSync(foreign);
    assert.throws(() => openDatabase(foreign), (error: unknown) => error instanceof InputError && /not a sparsetrace database/.test(error.message));
    assert.throws(() => openDatabase(foreign, { readonly: true }), InputError);
    assert.deepEqual(readFileSync(foreign), bytes);
  });

  test('a writer leaves the database in rollback mode, so a reader creates no file', () => {
    const dir = join(folder.path, 'modes');
    mkdirSync(dir);
    const path = join(dir, 'fresh.sqlite');
    const writer = openDatabase(path);
    assert.equal(writer.pragma('journal_mode', { simple: true }), 'wal');
    closeDatabase(writer);
    assert.deepEqual(readdirSync(dir), ['fresh.sqlite']);
    const reader = openDatabase(path, { readonly: true });
    reader.prepare('SELECT count(*) FROM runs').get();
    closeDatabase(reader);
    assert.deepEqual(readdirSync(dir), ['fresh.sqlite']);
  });
});
