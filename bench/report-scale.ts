/**
 * `npm run bench:report`: how `sparsetrace report` scales with the size of the
 * store. Target (the issue): the report of a whole job, and of any `--by`
 * grouping, within 1 s and 150 MB of anonymous memory at 10^5 runs and 10^8
 * positions.
 *
 * 1. A small real database: a job of 1 KiB windows (3 of ./inputs/enwik_1024.txt,
 *    3 of TypeScript's lib.es5.d.ts; 2 data files), Dmax 20 and 50, the 7 default
 *    τ: 12 runs of about 1,000 positions, computed by the CLI (`sparsetrace run`,
 *    a few seconds).
 * 2. Synthesis. The database is NOT computed at scale: its runs are copied under
 *    new keys until it holds `--runs` runs. Every table with a `run_key` column
 *    (discovered from sqlite_schema and PRAGMA table_xinfo, so a new schema needs
 *    no change here as long as per-run tables carry `run_key` and runs are listed
 *    in `runs` and `job_runs`) gets the template runs' rows again with a new
 *    run_key, `INSERT … SELECT` in batches of runs, one transaction per batch,
 *    journal and sync off. Columns rewritten wherever they appear:
 *    `run_key` (new key), `run_id` (the template's id with its first 12 hex
 *    digits replaced by a hash of the new key: still 64 hex digits, unique),
 *    `data_offset` (+ copy × the template's span, so every copy is a window of
 *    its own and `--by window` has a group per run and Dmax… as a real sweep of
 *    that many windows would), `run_order` (+ copy × the template's span, so the
 *    copies join the template's job after its runs). Everything else — counts,
 *    summaries, pattern peaks, content hashes — is the template run's, so the
 *    figures of a report are those of the template, only over more rows.
 *    Tables keyed by `job_id` alone (rollups) are not copied: `refreshRollups`
 *    is where they are rebuilt.
 * 3. Measurement: each report command as a fresh CLI process on the synthesised
 *    database, rounds interleaved (A B C … A B C …) after one warm-up round:
 *    wall time (median and min–max; `sparsetrace --version` beside them is
 *    the start-up every command pays) and the peak of the process's anonymous
 *    resident memory (`RssAnon` of /proc/PID/status polled every 20 ms; the
 *    file is read through mmap, whose pages are file-backed and not counted
 *    there), with `VmHWM` (all resident memory, mapped file pages included) for
 *    reference. PASS/FAIL against the targets; a miss is printed, never an exit
 *    status: this is a benchmark, not a test.
 *
 *   npm run bench:report -- [--runs N] [--positions P] [--rounds R] [--dir DIR] [--keep]
 *                           [--batch RUNS] [--timeout S] [--db FILE] [--stdout file|pipe|node]
 *
 *   --runs       runs of the synthesised database (default 100000)
 *   --positions  about this many positions in all (default 1000 per run): sets the
 *                template's window length to positions/runs + 1 bytes
 *   --rounds     measured rounds per command (default 3)
 *   --dir        where the databases go (default a new folder in the system's tmpdir)
 *   --keep       keep the databases (default: deleted at the end)
 *   --db FILE    measure an existing database instead (nothing synthesised; kept)
 *   --batch      new runs per transaction (default 1000)
 *   --timeout    seconds before a report process is killed and counted as a miss (default 600)
 *   --skip       --by keys not to measure, comma-separated (e.g. window: one group per run)
 *   --stdout     where each report's output goes: file (default; as `> FILE`), pipe (`| wc -c`),
 *                or node (a pipe this process reads: its reading shares the machine's 2 cores)
 *   --cli PATH   the launcher to measure (default ./bin/sparsetrace.js); given more than once
 *                (e.g. a checkout of main's code and this one), every command runs with each,
 *                interleaved within each round, on the same file: before and after, warm vs warm;
 *                PATH=FILE runs that launcher on FILE instead (an older build on a copy of the
 *                file in its older schema, when the newer schema's file is the one measured)
 *
 * At 10^5 runs of ~1,000 positions the file is about (bytes per position of the
 * template) × 10^8: the bench prints its estimate and stops before writing when
 * the disk has not that much free.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, fstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, statfsSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { DEFAULT_TAUS } from '../src/job/spec.js';
import { GROUPINGS } from '../src/report/choices.js';
import { childrenCpuSeconds, spread } from './stats.js';

type Db = Database.Database;

// ---------------------------------------------------------------------------
// Arguments.

const argv = process.argv.slice(2);
function flag(name: string): string | undefined {
  const k = argv.indexOf(`--${name}`);
  return k >= 0 ? argv[k + 1] : undefined;
}
function numberFlag(name: string, fallback: number): number {
  const text = flag(name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name}: ${JSON.stringify(text)} is not a positive number`);
  return value;
}
const RUNS = Math.round(numberFlag('runs', 100_000));
const POSITIONS = Math.round(numberFlag('positions', 1000 * RUNS));
const ROUNDS = Math.round(numberFlag('rounds', 3));
const BATCH = Math.round(numberFlag('batch', 1000));
const TIMEOUT_S = numberFlag('timeout', 600);
const KEEP = argv.includes('--keep');
const EXISTING = flag('db');
/**
 * Where a report's stdout goes: `file` (default), a file, as `> FILE` gives it (its bytes counted from its size);
 * `pipe`, a pipe into `wc -c`, as `| wc -c`; `node`, a pipe this process reads (the bench's only way before:
 * its own reading, about 0.15–0.2 s of CPU for 88 MB, then shares the 2 cores with the report and slows it).
 */
const STDOUT = flag('stdout') ?? 'file';
if (!['file', 'pipe', 'node'].includes(STDOUT)) throw new Error(`--stdout: ${JSON.stringify(STDOUT)} is not file, pipe or node`);

const CLI = resolve('bin/sparsetrace.js');
/**
 * The launchers measured (--cli, repeatable): each command runs with each of them in every round, each on the
 * measured file or on its own (`--cli PATH=FILE`: an older build on a copy of the file in its older schema).
 */
const CLIS = argv.flatMap((arg, k) => {
  if (arg !== '--cli' || argv[k + 1] === undefined) return [];
  const [cli, db] = argv[k + 1].split('=');
  return [{ cli: resolve(cli), db: db === undefined ? undefined : resolve(db) }];
});
if (CLIS.length === 0) CLIS.push({ cli: CLI, db: undefined });
const TARGET_SECONDS = 1;
const TARGET_ANON_MB = 150;

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0)} MB`;
const gb = (bytes: number): string => (bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : mb(bytes));
const thousands = (n: number): string => Math.round(n).toLocaleString('en-US');
const log = (line: string): void => void process.stderr.write(`${line}\n`);
const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`;

function cli(args: readonly string[]): string {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`sparsetrace ${args.join(' ')} failed (${result.status}): ${result.stderr}`);
  return result.stdout;
}

// ---------------------------------------------------------------------------
// 1. The template: a small real job.

function findModel(): string {
  const model = ['inputs/sat_model.bin', '../shared/inputs/sat_model.bin'].map((path) => resolve(path)).find(existsSync);
  if (model === undefined) throw new Error('no sat_model.bin in ./inputs or ../shared/inputs (run `sparsetrace fetch-inputs`)');
  return model;
}

/** Up to `wanted` windows of `length` bytes every `stride` bytes of a file of `size` bytes (at least one). */
function windowsOf(path: string, length: number, stride: number, wanted: number): { path: string; offset: number; length: number; stride: number; count: number } {
  const size = statSync(path).size;
  const fit = size >= length ? Math.floor((size - length) / stride) + 1 : 1;
  return { path, offset: 0, length, stride, count: Math.max(1, Math.min(wanted, fit)) };
}

function makeTemplate(folder: string, windowLength: number): string {
  const model = findModel();
  const enwik = ['inputs/enwik_1024.txt', '../shared/inputs/enwik_1024.txt'].map((path) => resolve(path)).find(existsSync);
  const es5 = resolve('node_modules/typescript/lib/lib.es5.d.ts');
  if (enwik === undefined) throw new Error('no enwik_1024.txt in ./inputs or ../shared/inputs (run `sparsetrace fetch-inputs`)');
  const job = {
    name: 'report-bench-template',
    models: [model],
    // Overlapping windows of the 1 KiB enwik file (distinct content), and of lib.es5.d.ts 4 KiB apart.
    data: [windowsOf(enwik, windowLength, 8, 3), windowsOf(es5, windowLength, Math.max(4096, windowLength), 3)],
    dmax: [20, 50],
    tau: [...DEFAULT_TAUS],
  };
  const jobPath = join(folder, 'template-job.json');
  writeFileSync(jobPath, JSON.stringify(job, null, 1));
  const path = join(folder, 'template.sqlite');
  const started = performance.now();
  cli(['run', jobPath, '--db', path, '--no-report']);
  log(`template: ${jobPath} computed in ${((performance.now() - started) / 1000).toFixed(1)} s into ${path}`);
  return path;
}

// ---------------------------------------------------------------------------
// 2. Synthesis: the template's runs copied under new keys.

interface CopiedTable {
  readonly name: string;
  /** The columns written, and the expression each takes its value from (s: the template row, m: the key map). */
  readonly columns: readonly string[];
  readonly values: readonly string[];
  readonly order: string;
}

/** The per-run tables (those with a `run_key` column), `runs` first, and how each column of a copy is made. */
function perRunTables(db: Db, spans: { offset: number; order: number }): { copied: CopiedTable[]; jobKeyed: string[] } {
  const tables = db
    .prepare(`SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name = 'runs' DESC, rowid`)
    .all() as { name: string; sql: string }[];
  const copied: CopiedTable[] = [];
  const jobKeyed: string[] = [];
  for (const table of tables) {
    if (/^\s*CREATE\s+VIRTUAL/i.test(table.sql)) continue;
    const info = db.prepare(`PRAGMA table_xinfo(${quote(table.name)})`).all() as { name: string; type: string; pk: number; hidden: number }[];
    const names = info.map((column) => column.name);
    if (!names.includes('run_key')) {
      if (names.includes('job_id') && table.name !== 'jobs') jobKeyed.push(table.name);
      continue;
    }
    const keys = info.filter((column) => column.pk > 0).sort((a, b) => a.pk - b.pk);
    const withoutRowid = /WITHOUT\s+ROWID/i.test(table.sql);
    // An INTEGER PRIMARY KEY other than run_key is the rowid: the copy gets a new one.
    const rowidAlias = !withoutRowid && keys.length === 1 && keys[0].type.toUpperCase() === 'INTEGER' && keys[0].name !== 'run_key' ? keys[0].name : undefined;
    const columns = info.filter((column) => column.hidden === 0 && column.name !== rowidAlias).map((column) => column.name);
    const values = columns.map((column) => {
      switch (column) {
        case 'run_key':
          return 'm.new_key';
        case 'run_id':
          // 64 hex digits still, unique: the first 12 replaced by a multiplicative hash of the new key (odd factor, so injective mod 2^48).
          return `printf('%012x', (m.new_key * 2654435761) % 281474976710656) || substr(s.run_id, 13)`;
        case 'data_offset':
          return `s.data_offset + m.copy * ${spans.offset}`;
        case 'run_order':
          return `s.run_order + m.copy * ${spans.order}`;
        default:
          return `s.${quote(column)}`;
      }
    });
    const order = ['m.new_key', ...keys.filter((column) => column.name !== 'run_key').map((column) => `s.${quote(column.name)}`)].join(', ');
    copied.push({ name: table.name, columns, values, order });
  }
  return { copied, jobKeyed };
}

/**
 * Rebuilds the store's rollups per job (rollups.ts) after the synthesis added
 * runs to the job, with the store's own refreshStaleRollups (every cohort whose
 * runs changed is made again from its runs' stored summaries and peaks), in one
 * transaction, on the synthesised file opened as the CLI opens it.
 */
async function refreshRollups(path: string): Promise<string> {
  const store = (await import('../src/store/index.js')) as Record<string, unknown>;
  const refresh = store.refreshStaleRollups;
  if (typeof refresh !== 'function') return 'no rollups to refresh (the store exports no refreshStaleRollups)';
  const open = store.openDatabase as (path: string) => unknown;
  const close = store.closeDatabase as (db: unknown) => void;
  const db = open(path);
  try {
    const started = performance.now();
    const connection = db as { exec(sql: string): void };
    connection.exec('BEGIN IMMEDIATE');
    (refresh as (db: unknown) => unknown)(db);
    connection.exec('COMMIT');
    return `rollups refreshed by the store's refreshRollups in ${((performance.now() - started) / 1000).toFixed(1)} s`;
  } finally {
    close(db);
  }
}

function synthesise(path: string, runs: number): void {
  const db = new Database(path);
  db.pragma('journal_mode = OFF');
  db.pragma('synchronous = OFF');
  db.pragma('foreign_keys = OFF');
  db.pragma('locking_mode = EXCLUSIVE');
  db.pragma('temp_store = MEMORY');
  db.pragma('cache_size = -262144');

  // The template runs, in their job's order; copies take their windows past the template's span.
  const template = db.prepare(`SELECT r.run_key FROM runs r LEFT JOIN job_runs j USING (run_key) ORDER BY j.run_order, r.run_key`).pluck().all() as number[];
  const T = template.length;
  if (T === 0) throw new Error(`${path}: no runs to copy`);
  if (runs <= T) {
    log(`synthesis: the template already holds ${T} runs (≥ --runs ${runs}); nothing copied`);
    db.close();
    return;
  }
  const span = db.prepare(`SELECT max(data_offset + data_length) AS offset, (SELECT max(run_order) - min(run_order) + 1 FROM job_runs) AS orders FROM runs`).get() as {
    offset: number;
    orders: number | null;
  };
  const { copied, jobKeyed } = perRunTables(db, { offset: span.offset, order: span.orders ?? T });
  log(`synthesis: ${T} template runs copied to ${thousands(runs)} runs; per-run tables: ${copied.map((table) => table.name).join(', ')}`);
  if (jobKeyed.length > 0) log(`synthesis: keyed by job_id, not copied (refreshRollups must rebuild them): ${jobKeyed.join(', ')}`);

  // The key map: new run j (0-based) is copy 1 + j / T of template run j % T, key base + j. A recursive CTE numbers them.
  const base = (db.prepare('SELECT max(run_key) FROM runs').pluck().get() as number) + 1;
  db.exec(`CREATE TEMP TABLE template (idx INTEGER PRIMARY KEY, run_key INTEGER NOT NULL)`);
  db.exec(`CREATE TEMP TABLE key_map (new_key INTEGER PRIMARY KEY, old_key INTEGER NOT NULL, copy INTEGER NOT NULL)`);
  const addTemplate = db.prepare('INSERT INTO temp.template (idx, run_key) VALUES (?, ?)');
  template.forEach((key, idx) => addTemplate.run(idx, key));
  db.prepare(
    `INSERT INTO temp.key_map (new_key, old_key, copy)
     WITH RECURSIVE n(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM n WHERE j + 1 < ?)
     SELECT ? + j, (SELECT run_key FROM temp.template WHERE idx = j % ?), 1 + j / ? FROM n`,
  ).run(BigInt(runs - T), BigInt(base), BigInt(T), BigInt(T)); // BigInt: better-sqlite3 binds numbers as REAL, and j / T must divide integers

  const statements = copied.map((table) =>
    db.prepare(
      `INSERT INTO main.${quote(table.name)} (${table.columns.map(quote).join(', ')})
       SELECT ${table.values.join(', ')}
       FROM temp.key_map m JOIN main.${quote(table.name)} s ON s.run_key = m.old_key
       WHERE m.new_key BETWEEN ? AND ? ORDER BY ${table.order}`,
    ),
  );
  const last = base + runs - T - 1;
  const started = performance.now();
  let lastLog = started;
  for (let from = base; from <= last; from += BATCH) {
    const to = Math.min(last, from + BATCH - 1);
    db.transaction(() => {
      for (const statement of statements) statement.run(BigInt(from), BigInt(to));
    })();
    const now = performance.now();
    if (now - lastLog > 5000 || to === last) {
      lastLog = now;
      const done = to - base + 1;
      const seconds = (now - started) / 1000;
      const rate = done / seconds;
      log(
        `synthesis: ${thousands(T + done)} / ${thousands(runs)} runs, ${gb(statSync(path).size)}, ${thousands(rate)} runs/s` +
          (to < last ? `, about ${Math.ceil((last - to) / rate)} s to go` : `, ${seconds.toFixed(1)} s`),
      );
    }
  }
  // Statistics from the template would describe a database of 12 runs: gather them again if the store keeps any.
  if (db.prepare(`SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_stat1'`).get() !== undefined) {
    db.pragma('analysis_limit = 1000');
    db.exec('ANALYZE');
  }
  db.exec('DROP TABLE temp.key_map; DROP TABLE temp.template');
  db.pragma('journal_mode = DELETE');
  db.close();
}

// ---------------------------------------------------------------------------
// 3. Measurement.

interface Sample {
  readonly seconds: number;
  /** User + system CPU seconds of the process (a busy machine stretches wall time, not this). */
  readonly cpu: number;
  /** Peak RssAnon and last VmHWM seen, bytes. */
  readonly anon: number;
  readonly hwm: number;
  readonly outputBytes: number;
  readonly failure?: string;
}

function statusField(status: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return match ? Number(match[1]) * 1024 : 0;
}

/** Where a report's stdout goes (--stdout): a file, or `wc -c` through a pipe; undefined for a pipe this process reads. */
function stdoutSink(): { readonly fd: number; bytes(): Promise<number> } | undefined {
  if (STDOUT === 'node') return undefined;
  const folder = mkdtempSync(join(tmpdir(), 'sparsetrace-report-out-'));
  const file = join(folder, STDOUT === 'file' ? 'report.txt' : 'count.txt');
  if (STDOUT === 'file') {
    const fd = openSync(file, 'w');
    return {
      fd,
      bytes: async () => {
        const size = fstatSync(fd).size;
        closeSync(fd);
        rmSync(folder, { recursive: true, force: true });
        return size;
      },
    };
  }
  // `| wc -c`: wc reads a FIFO (its count to a file); the report's process gets the FIFO's writing end.
  const fifo = join(folder, 'stdout');
  spawnSync('mkfifo', [fifo]);
  const counter = spawn('sh', ['-c', 'exec wc -c < "$0" > "$1"', fifo, file], { stdio: 'ignore' });
  const counted = new Promise<void>((done) => counter.on('exit', () => done()));
  const fd = openSync(fifo, 'w');
  return {
    fd,
    bytes: async () => {
      await counted;
      const size = Number(readFileSync(file, 'utf8').trim());
      rmSync(folder, { recursive: true, force: true });
      return size;
    },
  };
}

/** One report as a fresh CLI process (the only child running, with its stdout's reader), its memory polled from /proc every 20 ms. */
function measure(cli: string, args: readonly string[]): Promise<Sample> {
  return new Promise((resolvePromise) => {
    const sink = stdoutSink();
    const cpuBefore = childrenCpuSeconds();
    const started = performance.now();
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', sink?.fd ?? 'pipe', 'pipe'] });
    // The report's process has its own copy of the descriptor: the pipe's reader sees its end when the report ends.
    if (STDOUT === 'pipe' && sink !== undefined) closeSync(sink.fd);
    let anon = 0;
    let hwm = 0;
    let outputBytes = 0;
    let stderr = '';
    const poll = (): void => {
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        anon = Math.max(anon, statusField(status, 'RssAnon'));
        hwm = Math.max(hwm, statusField(status, 'VmHWM'));
      } catch {
        // Gone already.
      }
    };
    poll();
    const timer = setInterval(poll, 20);
    const killer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_S * 1000);
    child.stdout?.on('data', (chunk: Buffer) => (outputBytes += chunk.length));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code, signal) => {
      const seconds = (performance.now() - started) / 1000;
      const cpu = childrenCpuSeconds() - cpuBefore;
      clearInterval(timer);
      clearTimeout(killer);
      const failure =
        signal === 'SIGKILL' && seconds >= TIMEOUT_S ? `killed after the ${TIMEOUT_S} s timeout` : code !== 0 ? `exit ${code ?? signal}: ${stderr.trim().split('\n').pop()}` : undefined;
      if (sink === undefined) resolvePromise({ seconds, cpu, anon, hwm, outputBytes, failure });
      else void sink.bytes().then((bytes) => resolvePromise({ seconds, cpu, anon, hwm, outputBytes: bytes, failure }));
    });
  });
}

interface Command {
  readonly label: string;
  /** The launcher it runs with (--cli). */
  readonly cli: string;
  readonly args: readonly string[];
  /** Groups it reports (1 without --by). */
  readonly groups: number;
}

function commands(path: string): { list: Command[]; skipped: string[] } {
  const db = new Database(path, { readonly: true });
  const latestJob = db.prepare('SELECT job_id FROM jobs ORDER BY last_started_at DESC, job_id DESC LIMIT 1').pluck().get() as number;
  const count = (expression: string): number =>
    db.prepare(`SELECT count(DISTINCT ${expression}) FROM runs JOIN job_runs USING (run_key) WHERE job_id = ?`).pluck().get(latestJob) as number;
  const groupCount: Record<string, number> = {
    // A report splits its groups by Dmax too when the runs mix several (a note says so).
    window: count(`data_path || '@' || data_offset || '+' || data_length || '/' || dmax`),
    dmax: count('dmax'),
    model: count(`model_key || '/' || dmax`),
    data: count(`data_path || '/' || dmax`),
    // Each run's first job (as `--by job` keys it): the latest job's runs may belong to older jobs too.
    job: db.prepare(`SELECT count(DISTINCT (SELECT min(job_id) FROM job_runs j WHERE j.run_key = r.run_key) || '/' || r.dmax) FROM runs r JOIN job_runs USING (run_key) WHERE job_id = ?`).pluck().get(latestJob) as number,
  };
  const allDmax = db.prepare('SELECT count(DISTINCT dmax) FROM runs').pluck().get() as number;
  const jobDmax = count('dmax');
  db.close();
  const list: Omit<Command, 'cli'>[] = [
    // Not a report: the CLI's start-up alone (node, the bundle, yargs), part of every figure below.
    { label: 'sparsetrace --version (start-up)', args: ['--version'], groups: 0 },
    // Several Dmax are grouped by Dmax by default (a note says so): the groups are those of --by dmax.
    { label: 'report --all --format json', args: ['report', '--all', '--format', 'json'], groups: allDmax },
    { label: `report --job ${latestJob} --format json`, args: ['report', '--job', String(latestJob), '--format', 'json'], groups: jobDmax },
  ];
  const skipped: string[] = [];
  for (const by of ['window', 'dmax', 'data', 'model', ...GROUPINGS.filter((g) => !['window', 'dmax', 'data', 'model'].includes(g))]) {
    if ((flag('skip') ?? '').split(',').includes(by)) {
      skipped.push(`report --by ${by}: skipped (--skip)`);
      continue;
    }
    if (!(GROUPINGS as readonly string[]).includes(by)) {
      skipped.push(`report --by ${by}: not offered by this build (--by ${GROUPINGS.join('|')}, src/report/choices.ts)`);
      continue;
    }
    list.push({ label: `report --by ${by}`, args: ['report', '--by', by], groups: groupCount[by] ?? NaN });
  }
  // Each command with each launcher, side by side (labelled [1], [2], … when there are several), on its file.
  const measured = list.flatMap((command) =>
    CLIS.map(({ cli, db }, k) => ({
      ...command,
      args: command.groups === 0 ? command.args : [...command.args, '--db', db ?? path],
      cli,
      label: CLIS.length > 1 ? `[${k + 1}] ${command.label}` : command.label,
    })),
  );
  return { list: measured, skipped };
}

async function measureAll(path: string): Promise<void> {
  const { list, skipped } = commands(path);
  if (CLIS.length > 1) for (const [k, { cli, db }] of CLIS.entries()) console.log(`[${k + 1}] ${cli}${db === undefined ? '' : ` on ${db}`}`);
  console.log(`load average ${loadavg().map((value) => value.toFixed(1)).join(' ')} on ${availableParallelism()} cores (a shared machine stretches wall times; CPU s does not)`);
  log(`measuring ${list.length} commands: 1 warm-up round, then ${ROUNDS} rounds interleaved`);
  const samples = list.map((): Sample[] => []);
  for (let round = -1; round < ROUNDS; round++) {
    for (const [k, command] of list.entries()) {
      const sample = await measure(command.cli, command.args);
      if (round >= 0) samples[k].push(sample);
      log(`  ${round < 0 ? 'warm-up' : `round ${round + 1}`}: ${command.label}: ${sample.seconds.toFixed(2)} s, RssAnon ${mb(sample.anon)}${sample.failure ? ` (${sample.failure})` : ''}`);
    }
  }

  const header = ['command', 'groups', 'wall s median (min–max)', 'CPU s', 'RssAnon peak MB median (max)', 'VmHWM MB', 'output', `≤ ${TARGET_SECONDS} s`, `≤ ${TARGET_ANON_MB} MB`];
  const rows = list.map((command, k) => {
    const runs = samples[k];
    const failed = runs.find((sample) => sample.failure !== undefined);
    const time = spread(runs.map((sample) => sample.seconds));
    const cpu = spread(runs.map((sample) => sample.cpu));
    const anon = spread(runs.map((sample) => sample.anon / 1e6));
    const hwm = spread(runs.map((sample) => sample.hwm / 1e6));
    const baseline = command.groups === 0;
    return [
      command.label,
      baseline ? '-' : thousands(command.groups),
      `${time.median.toFixed(2)} (${time.min.toFixed(2)}–${time.max.toFixed(2)})`,
      cpu.median.toFixed(2),
      `${anon.median.toFixed(0)} (${anon.max.toFixed(0)})`,
      hwm.median.toFixed(0),
      failed ? 'FAILED' : gb(spread(runs.map((sample) => sample.outputBytes)).median),
      baseline ? '-' : failed ? 'FAIL' : time.median <= TARGET_SECONDS ? 'PASS' : 'FAIL',
      baseline ? '-' : failed ? 'FAIL' : anon.max <= TARGET_ANON_MB ? 'PASS' : 'FAIL',
    ];
  });
  const widths = header.map((title, c) => Math.max(title.length, ...rows.map((row) => row[c].length)));
  const render = (cells: readonly string[]): string => cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  console.log('');
  console.log(render(header));
  for (const row of rows) console.log(render(row));
  for (const [k, command] of list.entries()) {
    const failure = samples[k].find((sample) => sample.failure !== undefined)?.failure;
    if (failure) console.log(`  ${command.label}: ${failure}`);
  }
  for (const line of skipped) console.log(`  ${line}`);
  console.log(`  load average at the end ${loadavg().map((value) => value.toFixed(1)).join(' ')}`);
  console.log(`  each report's stdout: ${{ file: 'a file (as > FILE)', pipe: 'a pipe into wc -c (as | wc -c)', node: 'a pipe this process reads' }[STDOUT]}`);
  console.log(`  targets: ≤ ${TARGET_SECONDS} s wall (median; CPU s: user + system of the process) and ≤ ${TARGET_ANON_MB} MB RssAnon (max over rounds); a FAIL is reported, not an exit status`);
}

function describeDatabase(path: string): { runs: number; positions: number; bytes: number } {
  const db = new Database(path, { readonly: true });
  const runs = db.prepare('SELECT count(*) FROM runs').pluck().get() as number;
  const positions = db.prepare('SELECT coalesce(sum(positions), 0) FROM runs').pluck().get() as number;
  db.close();
  return { runs, positions, bytes: statSync(path).size };
}

// ---------------------------------------------------------------------------

const folder = EXISTING === undefined ? (flag('dir') ? resolve(flag('dir') as string) : mkdtempSync(join(tmpdir(), 'sparsetrace-report-bench-'))) : undefined;
try {
  let path: string;
  if (EXISTING !== undefined) {
    path = resolve(EXISTING);
  } else {
    mkdirSync(folder as string, { recursive: true });
    const windowLength = Math.max(2, Math.round(POSITIONS / RUNS) + 1);
    const templatePath = makeTemplate(folder as string, windowLength);
    const template = describeDatabase(templatePath);
    const perPosition = template.bytes / template.positions;
    const estimate = (perPosition * template.positions * RUNS) / template.runs;
    const free = statfsSync(folder as string).bavail * statfsSync(folder as string).bsize;
    log(
      `template: ${template.runs} runs, ${thousands(template.positions)} positions, ${gb(template.bytes)} (${perPosition.toFixed(0)} bytes/position); ` +
        `${thousands(RUNS)} runs will take about ${gb(estimate)}, ${gb(free)} free in ${folder}`,
    );
    if (estimate > 0.9 * free) {
      throw new Error(
        `not enough disk: ${thousands(RUNS)} runs need about ${gb(estimate)} and ${folder} has ${gb(free)} free; ` +
          `try --runs ${Math.floor((0.8 * free * template.runs) / (perPosition * template.positions))} or --dir on a larger disk`,
      );
    }
    path = join(folder as string, 'report-bench.sqlite');
    copyFileSync(templatePath, path);
    const started = performance.now();
    synthesise(path, RUNS);
    log(`synthesis: ${await refreshRollups(path)}`);
    const seconds = (performance.now() - started) / 1000;
    log(`synthesis: ${seconds.toFixed(1)} s in all`);
    console.log(`synthesised in ${seconds.toFixed(1)} s: copies of ${template.runs} real runs (${windowLength}-byte windows, Dmax 20 and 50, 7 τ) under new keys`);
  }
  const { runs, positions, bytes } = describeDatabase(path);
  console.log(`${path}: ${thousands(runs)} runs, ${thousands(positions)} positions, ${gb(bytes)}, ${(bytes / positions).toFixed(0)} bytes per position`);
  await measureAll(path);
} finally {
  if (folder !== undefined && !KEEP) rmSync(folder, { recursive: true, force: true });
  else if (folder !== undefined) console.log(`kept: ${folder}`);
}
