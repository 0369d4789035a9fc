import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
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

/** Starts the CLI without waiting, for tests that interrupt it. */
export function cliProcess(args: readonly string[], options: { cwd?: string } = {}) {
  return spawn(process.execPath, [BIN, ...args], { cwd: options.cwd ?? PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
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

/** Every result row of a database in a canonical order: what "identical results" means. */
export function resultRows(path: string): string {
  const db = new Database(path, { readonly: true });
  try {
    return JSON.stringify([
      db.prepare('SELECT run_id, t, y, surprisal_bits FROM positions ORDER BY run_id, t').raw().all(),
      db.prepare('SELECT run_id, tau, t, n_x, n_h, n_y FROM counts ORDER BY run_id, tau, t').raw().all(),
      db.prepare('SELECT run_id, d, t, mass FROM depth_mass ORDER BY run_id, d, t').raw().all(),
      db.prepare('SELECT run_id, class, src, dst, peak FROM pattern_peaks ORDER BY run_id, class, src, dst').raw().all(),
      db.prepare('SELECT run_id, status, positions FROM runs ORDER BY run_id').raw().all(),
    ]);
  } finally {
    db.close();
  }
}
