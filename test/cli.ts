import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** Tests run from the project root (`npm test`); shared material sits beside it. */
export const PROJECT_ROOT = process.cwd();
export const SHARED = resolve(PROJECT_ROOT, '..', 'shared');
export const SHARED_MODEL = join(SHARED, 'inputs', 'sat_model.bin');
export const SHARED_DATA = join(SHARED, 'inputs', 'enwik_1024.txt');
export const REFERENCE_JSON = join(SHARED, 'reference', 'q1-sat_model-enwik_1024.json');
export const REFERENCE_POSITIONS = join(SHARED, 'reference', 'q1-sat_model-enwik_1024.positions.tsv');
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
