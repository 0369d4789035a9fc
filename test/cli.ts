import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommandLine } from '../src/cli/program.js';
import { openDatabase } from '../src/store/index.js';
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
 * Runs a command line in this process (src/cli/program.ts), as `cli` does in a
 * child: for everything but what only a process shows (signals, the exit of
 * the process, pipes, other processes holding locks). Cheaper by a Node start
 * and the CLI's modules per call.
 */
export async function cliHere(args: readonly string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await runCommandLine(args, { out: (text) => (stdout += text), err: (text) => (stderr += text) });
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

/** The shipped Q1 job, reading the inputs from ../shared, into `db`. */
export function publishedJobArgs(db: string): string[] {
  return ['run', 'jobs/q1-sparsity.json', '--model', SHARED_MODEL, '--data', SHARED_DATA, '--db', db, '--no-report'];
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
      db.prepare('SELECT run_id, class, src, dst, peak FROM pattern_peaks ORDER BY run_id, class, src, dst').raw().all(),
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
          `SELECT r.run_id, s.tau_index, s.positions, s.sum_x, s.sum_h, s.sum_y, s.min_n, s.median_n, s.max_n, s.distinct_n, hex(s.hist_n), hex(s.hist_positions)
           FROM run_tau_stats s JOIN runs r USING (run_key) ORDER BY r.run_id, s.tau_index`,
        )
        .raw()
        .all(),
      // Activation frequencies: what each run counted, and every pattern's positions.
      db.prepare('SELECT r.run_id, f.tau_index, f.tau, f.tau_f32, f.positions FROM run_frequency f JOIN runs r USING (run_key) ORDER BY r.run_id, f.tau_index').raw().all(),
      db.prepare('SELECT run_id, class, src, dst, tau, positions FROM pattern_frequency ORDER BY run_id, tau, class, src, dst').raw().all(),
    ]);
  } finally {
    db.close();
  }
}
