import Database from 'better-sqlite3';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { InputError } from '../errors.js';
import { registerFunctions } from './functions.js';
import { upgradeSchema } from './migrate.js';
import type { Db } from './db.js';
import { SCHEMA_VERSION } from './schema.js';

export interface OpenOptions {
  /** Open for reading only; the file must exist. */
  readonly readonly?: boolean;
}

/**
 * Opens (creating if needed, unless read-only) a sparsetrace database: WAL mode,
 * foreign keys on, migrations applied. Errors name the path.
 */
export function openDatabase(path: string, options: OpenOptions = {}): Db {
  const readonly = options.readonly ?? false;
  if (readonly && !existsSync(path)) {
    throw new InputError(`database ${path}: no such file (run \`sparsetrace run\` first, or pass --db)`);
  }
  let db: Db;
  try {
    if (!readonly) mkdirSync(dirname(path), { recursive: true });
    db = new Database(path, { readonly, fileMustExist: readonly });
  } catch (error) {
    throw new InputError(`database ${path}: cannot open: ${(error as Error).message}`);
  }
  try {
    db.pragma('busy_timeout = 5000');
    // Reports read the per-run BLOBs of whole sweeps: map the file rather than copy it page by page.
    db.pragma('mmap_size = 1073741824');
    if (!readonly) {
      db.pragma('journal_mode = WAL');
      // In WAL mode NORMAL never corrupts and loses at most the last commits on power loss;
      // a resumed run recomputes those shards.
      db.pragma('synchronous = NORMAL');
    }
    db.pragma('foreign_keys = ON');
    registerFunctions(db);
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new InputError(
        `database ${path}: schema version ${version} was written by a newer sparsetrace (this one reads up to ${SCHEMA_VERSION}); upgrade sparsetrace`,
      );
    }
    if (version < SCHEMA_VERSION) {
      if (readonly && version === 0) {
        throw new InputError(`database ${path}: not a sparsetrace database (it has no sparsetrace schema)`);
      }
      if (readonly) {
        // Reading commands never write; any command that opens for writing migrates.
        throw new InputError(
          `database ${path}: schema version ${version} was written by sparsetrace 0.1.0; upgrade it once with \`sparsetrace migrate --db ${path}\` (any run on it does too)`,
        );
      }
      upgradeSchema(db);
    }
  } catch (error) {
    db.close();
    if (error instanceof InputError) throw error;
    throw new InputError(`database ${path}: not a usable sparsetrace database: ${(error as Error).message}`);
  }
  return db;
}
