import Database from 'better-sqlite3';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { InputError } from '../errors.js';
import { MIGRATIONS, SCHEMA_VERSION } from './schema.js';

export type Db = Database.Database;

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
    if (!readonly) {
      db.pragma('journal_mode = WAL');
      // In WAL mode NORMAL never corrupts and loses at most the last commits on power loss;
      // a resumed run recomputes those shards.
      db.pragma('synchronous = NORMAL');
    }
    db.pragma('foreign_keys = ON');
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
          `database ${path}: schema version ${version} is older than ${SCHEMA_VERSION}; migrate it with \`sparsetrace sql --write "SELECT 1" --db ${path}\``,
        );
      }
      migrate(db, version);
    }
  } catch (error) {
    db.close();
    if (error instanceof InputError) throw error;
    throw new InputError(`database ${path}: not a usable sparsetrace database: ${(error as Error).message}`);
  }
  return db;
}

function migrate(db: Db, from: number): void {
  db.transaction(() => {
    for (let version = from; version < MIGRATIONS.length; version++) db.exec(MIGRATIONS[version]);
    db.pragma(`user_version = ${MIGRATIONS.length}`);
  }).immediate();
}
