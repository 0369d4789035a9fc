import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommandLine } from '../src/cli/program.js';
import type { InProcessSettings } from '../src/cli/inProcess.js';
import Database from 'better-sqlite3';
import { ExactSum } from '../src/engine/exactSum.js';
import { openDatabase, type Db } from '../src/store/index.js';
import { PROJECT_ROOT, SHARED_DATA, SHARED_MODEL } from './paths.js';

export * from './paths.js';

const BIN = join(PROJECT_ROOT, 'bin', 'sparsetrace.js');

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI to completion, as a user would. */
export function cli(args: readonly string[], options: { cwd?: string } = {}): CliResult {
  const result = spawnSync(process.execPath, [BIN, ...args], { cwd: options.cwd ?? PROJECT_ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
}

/**
 * CPU seconds `plan` measures the engine for in cliHere (the CLI's 1 s takes
 * about 1.7 s of CPU a call): no test of a command line checks the measurement
 * itself (job-plan.test checks planJob's at 0.2 s too), only what plan makes of it.
 */
export const TEST_PLAN_CALIBRATION_SECONDS = 0.2;

/**
 * Runs a command line in this process (src/cli/program.ts), as `cli` does in a
 * child: for everything but what only a process shows (signals, the exit of
 * the process, pipes, other processes holding locks). Cheaper by a Node start
 * and the CLI's modules per call.
 */
export async function cliHere(args: readonly string[], settings: InProcessSettings = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await runCommandLine(args, { out: (text) => (stdout += text), err: (text) => (stderr += text) }, { planCalibrationSeconds: TEST_PLAN_CALIBRATION_SECONDS, ...settings });
  return { code, signal: null, stdout, stderr };
}

/** Starts the CLI without waiting, for tests that interrupt it. */
export function cliProcess(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  return spawn(process.execPath, [BIN, ...args], { cwd: options.cwd ?? PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env });
}

/** A fresh temporary folder, removed by the returned function. */
export function temporaryFolder(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `sparsetrace-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Writes job `name` (its fields `spec`) as a file in `folder` and runs it in-process into `db`; a failed run fails the test. */
export async function runJobSpec(folder: string, db: string, name: string, spec: object, extra: readonly string[] = []): Promise<void> {
  const path = join(folder, `${name}.json`);
  writeFileSync(path, JSON.stringify({ name, ...spec }));
  const run = await cliHere(['run', path, '--db', db, '--no-report', ...extra]);
  assert.equal(run.code, 0, run.stderr);
}

/** The shipped Q1 job, reading the inputs from ../shared, into `db`. */
export function publishedJobArgs(db: string): string[] {
  return ['run', 'jobs/q1-sparsity.json', '--model', SHARED_MODEL, '--data', SHARED_DATA, '--db', db, '--no-report'];
}

/**
 * The rows of the pattern_peaks view (run_id, class, src, dst, peak; ORDER BY
 * run_id, class, src, dst), decoded here from pattern_peak_rows as the view
 * decodes them (little-endian float32; src/dst from the row and the index as in
 * src/store/schema.ts; only peaks > 0, so NaN and zeros are left out): the
 * view decodes every float in SQL and sorts some 22,000 rows per run, which
 * took most of the queue tests' time (20 s a database on a loaded machine).
 */
function patternPeaks(db: Db): (string | number)[][] {
  const stored = db
    .prepare('SELECT r.run_id, pr.class, pr.row, pr.peaks, m.hidden FROM pattern_peak_rows pr JOIN runs r USING (run_key) JOIN models m USING (model_key)')
    .raw()
    .all() as [string, string, number, Buffer, number][];
  const rows: [string, string, number, number, number][] = [];
  for (const [runId, kind, row, peaks, hidden] of stored) {
    const view = new DataView(peaks.buffer, peaks.byteOffset, peaks.byteLength);
    for (let key = 0; key < Math.floor(peaks.byteLength / 4); key++) {
      const peak = view.getFloat32(4 * key, true);
      if (!(peak > 0)) continue;
      const src = kind === 'wx' ? row : kind === 'wy' ? key : key % hidden;
      const dst = kind === 'wx' ? key : kind === 'wy' ? row : Math.floor(key / hidden);
      rows.push([runId, kind, src, dst, peak]);
    }
  }
  const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  return rows.sort((a, b) => byText(a[0], b[0]) || byText(a[1], b[1]) || a[2] - b[2] || a[3] - b[3]);
}

/**
 * Every result row of a database in a canonical order: what "identical results"
 * means. Per-shard sums are compared per run (their exact sums), since shard
 * boundaries depend on --shard-size and on where a run was interrupted.
 */
export function resultRows(path: string): string {
  const db = openDatabase(path, { readonly: true });
  try {
    return JSON.stringify([
      db.prepare('SELECT run_id, t, y, surprisal_bits, mass_total, peak_d FROM positions ORDER BY run_id, t').raw().all(),
      db.prepare('SELECT run_id, tau, t, n_x, n_h, n_y FROM counts ORDER BY run_id, tau, t').raw().all(),
      db.prepare('SELECT run_id, d, t, mass FROM depth_mass ORDER BY run_id, d, t').raw().all(),
      patternPeaks(db),
      db.prepare('SELECT run_id, status, positions, depth_curves FROM runs ORDER BY run_id').raw().all(),
      db
        .prepare(
          `SELECT r.run_id, sum(s.count), exact_sum(s.surprisal_sum, s.surprisal_err) FROM shards s JOIN runs r USING (run_key)
           GROUP BY r.run_id ORDER BY r.run_id`,
        )
        .raw()
        .all(),
      db
        .prepare(
          `SELECT r.run_id, sd.d, sum(sd.positions), exact_sum(sd.mass_sum, sd.mass_err) FROM shard_depth sd JOIN runs r USING (run_key)
           GROUP BY r.run_id, sd.d ORDER BY r.run_id, sd.d`,
        )
        .raw()
        .all(),
      db.prepare('SELECT r.run_id, d.d, d.positions, d.mass_sum, d.mass_err FROM run_depth d JOIN runs r USING (run_key) ORDER BY r.run_id, d.d').raw().all(),
      db
        .prepare(
          `SELECT r.run_id, s.tau_index, s.positions, s.sum_x, s.sum_h, s.sum_y, s.min_n, s.median_n, s.max_n, s.distinct_n, hex(s.hist_steps), hex(s.hist_large), hex(s.hist_positions)
           FROM run_tau_stats s JOIN runs r USING (run_key) ORDER BY r.run_id, s.tau_index`,
        )
        .raw()
        .all(),
      // What a one-run overview reads (schema 10), as the writer, a merge or a migration wrote it.
      db.prepare('SELECT r.run_id, o.positions, o.surprisal_bits, o.taus, hex(o.figures) FROM run_overview o JOIN runs r USING (run_key) ORDER BY r.run_id').raw().all(),
      // Activation frequencies: what each run counted, and every pattern's positions.
      db.prepare('SELECT r.run_id, f.tau_index, f.tau, f.tau_f32, f.positions FROM run_frequency f JOIN runs r USING (run_key) ORDER BY r.run_id, f.tau_index').raw().all(),
      db.prepare('SELECT run_id, class, src, dst, tau, positions FROM pattern_frequency ORDER BY run_id, tau, class, src, dst').raw().all(),
    ]);
  } finally {
    db.close();
  }
}

/**
 * The `run_overview` rows (schema 10) that a file's finished runs' own rows give, computed here apart from
 * writeRunOverview (as rowsOf prints them): positions and the exact surprisal sum over `shards`, and per τ
 * (tau_index order) tau, tau_f32, positions, sum_x + sum_h + sum_y and median_n as little-endian float64.
 */
export function expectedOverviews(file: string): string[] {
  const handle = new Database(file, { readonly: true });
  try {
    const runKeys = handle.prepare(`SELECT run_key FROM runs WHERE status = 'done'`).pluck().all() as number[];
    return runKeys
      .map((runKey) => {
        const sum = new ExactSum();
        let positions = 0;
        for (const [count, hi, lo] of handle.prepare(`SELECT count, surprisal_sum, surprisal_err FROM shards WHERE run_key = ?`).raw().all(runKey) as number[][]) {
          positions += count;
          sum.add(hi);
          sum.add(lo);
        }
        const taus = handle
          .prepare(`SELECT t.tau, t.tau_f32, s.positions, s.sum_x + s.sum_h + s.sum_y, s.median_n FROM run_taus t JOIN run_tau_stats s USING (run_key, tau_index) WHERE t.run_key = ? ORDER BY t.tau_index`)
          .raw()
          .all(runKey) as number[][];
        const figures = Buffer.alloc(40 * taus.length);
        taus.flat().forEach((value, k) => figures.writeDoubleLE(value, 8 * k));
        return JSON.stringify([runKey, positions, sum.value(), taus.length, figures.toString('hex')]);
      })
      .sort();
  } finally {
    handle.close();
  }
}
