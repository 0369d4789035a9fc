/** The database as the commands find, open, lock and remember it (store/ loads with this file). */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { classify, InputError } from '../errors.js';
import { DEFAULT_DB } from '../job/file.js';
import { lockStore } from '../jobrun/lock.js';
import { closeDatabase, inSnapshot, openDatabase, type Db, type OpenOptions, type RunSelection } from '../store/index.js';
import { AtomicFile, commandArgs, log } from './output.js';

/** Beside the default database: the path of the database the last `run` wrote, when it was another one. */
const LAST_DB_FILE = join(dirname(DEFAULT_DB), '.last-db');

/**
 * The database a command works on: --db, else SPARSETRACE_DB, else the one
 * the last run used without --db (a job file's "db"), so `status`, `report`
 * and `resume` follow it, else the default.
 */
export function databasePath(flag: string | readonly string[] | undefined): string {
  // yargs makes a repeated --db an array: only `report` compares stores.
  if (Array.isArray(flag)) {
    if (new Set(flag).size > 1) throw new InputError(`--db: given ${flag.length} times (${flag.join(', ')}); only \`report\` in text, md, json or csv compares stores (report --db A --db B)`);
    return flag[0] as string;
  }
  if (flag !== undefined) return flag as string;
  if (process.env.SPARSETRACE_DB !== undefined) return process.env.SPARSETRACE_DB;
  let remembered: string | undefined;
  try {
    remembered = readFileSync(LAST_DB_FILE, 'utf8').trim();
  } catch {
    return DEFAULT_DB;
  }
  if (remembered === '' || !existsSync(remembered)) return DEFAULT_DB;
  log(`(database ${remembered}, used by the last run; --db to choose another)`);
  return remembered;
}

/** Remembers the database a run used (forgets it when it is the default); best effort. */
export function rememberDatabase(path: string): void {
  try {
    if (resolve(path) === resolve(DEFAULT_DB)) {
      rmSync(LAST_DB_FILE, { force: true });
      return;
    }
    mkdirSync(dirname(LAST_DB_FILE), { recursive: true });
    const file = new AtomicFile(LAST_DB_FILE, 'last database');
    file.write(`${resolve(path)}\n`);
    file.commit();
  } catch {
    // A read-only results folder: later commands need --db, as before.
  }
}

/**
 * Opens the database for a command and closes it when the command is done. A
 * reading command (the default) reads one snapshot (inSnapshot), unless it runs
 * statements of its own (`sql`: `snapshot: false`).
 */
export async function withDatabase<T>(
  path: string | undefined,
  body: (db: Db, path: string) => T | Promise<T>,
  options: OpenOptions & { readonly snapshot?: boolean } = { readonly: true },
): Promise<T> {
  const dbPath = databasePath(path);
  const db = openDatabase(dbPath, options);
  try {
    if (options.readonly === true && options.snapshot !== false) return await inSnapshot(db, () => body(db, dbPath));
    return await body(db, dbPath);
  } catch (error) {
    // A SQLite failure while reading or writing (a damaged page, a full disk) names the database.
    if (/^SQLITE_/.test((error as { code?: string }).code ?? '')) throw classify(error, `database ${dbPath}`) ?? error;
    throw error;
  } finally {
    closeDatabase(db);
  }
}

/** A note on stderr when a selection holds runs that are not finished. */
export function warnIncomplete(runs: RunSelection, store?: string): void {
  const mix = runs.describe();
  if (mix.unfinished === 0) return;
  const shown = runs.unfinished(10);
  const listed = shown.map((run) => `${run.run_id} ${run.positions_done}/${run.positions}`).join(', ') + (mix.unfinished > shown.length ? `, and ${mix.unfinished - shown.length} more` : '');
  log(
    `note: ${mix.unfinished} of ${mix.runs} selected runs${store === undefined ? '' : ` in ${store}`} are not finished (${listed}); ` +
      'figures cover the positions computed so far, never-active counts only finished runs',
  );
}

/**
 * Takes the database's writer lock for this process, under this command line
 * (see lockStore); with `wait`, waits for another writer to finish instead of
 * failing. Returns the release function.
 */
export function lockForWriting(db: Db, dbPath: string, wait: boolean): Promise<() => void> {
  return lockStore(db, dbPath, { command: `sparsetrace ${commandArgs().join(' ')}`.trim(), wait, log });
}
