import { statSync } from 'node:fs';
import { InputError } from '../errors.js';
import { checkDatabasePath, closeDatabase, openDatabase, SCHEMA_VERSION, schemaVersionOf } from '../store/index.js';
import { databasePath, lockForWriting } from './database.js';
import { log } from './output.js';

export interface MigrateArgs {
  readonly db?: string;
  readonly vacuum: boolean;
}

/**
 * `sparsetrace migrate`: upgrades a database written by an older sparsetrace to
 * this schema in place, in one transaction, then (unless --no-vacuum) gives the
 * space of the old tables back to the file system, when the upgrade freed any. Writing commands do the same
 * upgrade when they first open an old file; reading commands ask for this one.
 */
export async function migrateCommand(args: MigrateArgs): Promise<number> {
  const dbPath = databasePath(args.db);
  if (!checkDatabasePath(dbPath)) throw new InputError(`database ${dbPath}: no such file`);
  let before: number;
  try {
    before = schemaVersionOf(dbPath);
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError(`database ${dbPath}: not an SQLite file sparsetrace can upgrade (${(error as Error).message})`);
  }
  if (before === SCHEMA_VERSION) {
    log(`database ${dbPath}: already at schema version ${SCHEMA_VERSION}; nothing to do`);
    return 0;
  }
  const bytesBefore = statSync(dbPath).size;
  const db = openDatabase(dbPath);
  try {
    const release = await lockForWriting(db, dbPath, false);
    try {
      // Only when the upgrade left free pages: a 9 → 10 upgrade frees none, and rewriting a 30 GB file for nothing takes minutes.
      if (args.vacuum && (db.pragma('freelist_count', { simple: true }) as number) > 0) db.exec('VACUUM');
    } finally {
      release();
    }
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    closeDatabase(db);
  }
  const bytesAfter = statSync(dbPath).size;
  log(`database ${dbPath}: upgraded from schema version ${before} to ${SCHEMA_VERSION} (${(bytesBefore / 1e6).toFixed(1)} MB → ${(bytesAfter / 1e6).toFixed(1)} MB)`);
  return 0;
}
