import Database from 'better-sqlite3';
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readlinkSync, readSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { classify, CorruptStoreError, EnvironmentError, InputError, SparsetraceError } from '../errors.js';
import { liveLockHolder, lockMessage } from './lock.js';
import type { Db } from './db.js';
import { registerFunctions } from './functions.js';
import { upgradeSchema } from './migrate.js';
import { SCHEMA_VERSION, WRITER_LOCK_TABLE } from './schema.js';
import { checkpointWal, renewGuardAtRest, startWalUpkeep, stopWalUpkeep, verifyWal } from './walGuard.js';

export interface OpenOptions {
  /** Open for reading only; the file must exist, and nothing is created or changed. */
  readonly readonly?: boolean;
  /** For writing: refuse a missing file instead of creating it. */
  readonly mustExist?: boolean;
}

/** Tables whose presence marks a file as a sparsetrace database. */
const OUR_TABLES = ['runs', 'jobs'];

/** The file's first 100 bytes hold the SQLite header; byte 18 is 2 when the file is in WAL mode. */
function readHeader(path: string): Buffer {
  const header = Buffer.alloc(100);
  const fd = openSync(path, 'r');
  try {
    return header.subarray(0, readSync(fd, header, 0, 100, 0));
  } finally {
    closeSync(fd);
  }
}

/**
 * Refuses a database path that cannot hold results: empty, in memory, a folder,
 * a FIFO or device. Returns whether the file exists.
 */
export function checkDatabasePath(path: string): boolean {
  if (path.trim() === '') throw new InputError('--db: the database path is empty; give a file (default results/sparsetrace.sqlite)');
  if (path === ':memory:' || path.startsWith('file:')) {
    throw new InputError(`--db ${path}: results must go to a database file (an in-memory or URI database would be lost); give a file path`);
  }
  let stats;
  try {
    stats = statSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw classify(error, `database ${path}`) ?? error;
  }
  if (stats.isDirectory()) throw new InputError(`database ${path}: is a folder; give a database file (e.g. ${path}/sparsetrace.sqlite)`);
  if (!stats.isFile()) throw new InputError(`database ${path}: not a regular file (a FIFO or device); give a database file`);
  const special = throughKernelFiles(path);
  if (special !== undefined) {
    throw new InputError(`database ${path}: not a regular file (it is ${special}, a file of the kernel or of a process); give a database file`);
  }
  return true;
}

/** Folders whose files are the kernel's or a process's (status, file descriptors), not files that hold data. */
const KERNEL_FOLDERS = ['/proc', '/sys'];

/**
 * Where `path` leads through /proc or /sys (a symbolic link followed one step at
 * a time: `/dev/stdout` is /proc/self/fd/1, which leads on to whatever the
 * output is), or undefined for an ordinary file.
 */
function throughKernelFiles(path: string): string | undefined {
  let current = resolve(path);
  for (let step = 0; step < 40; step++) {
    let here: string;
    try {
      here = join(realpathSync(dirname(current)), basename(current));
    } catch {
      return undefined;
    }
    if (KERNEL_FOLDERS.some((folder) => here === folder || here.startsWith(`${folder}/`))) return here;
    try {
      if (!lstatSync(here).isSymbolicLink()) return undefined;
      current = resolve(dirname(here), readlinkSync(here));
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** What a SQLite file holds: its schema version and tables. */
function inspectFile(db: Db): { version: number; tables: string[] } {
  const version = db.pragma('user_version', { simple: true }) as number;
  const tables = (db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table'`).all() as { name: string }[]).map((row) => row.name);
  return { version, tables };
}

/**
 * Whether the file is ours, new (no tables: sparsetrace may initialise it) or
 * someone else's (refused, unchanged). Throws for foreign and newer files.
 */
function checkOwnership(path: string, version: number, tables: readonly string[]): 'new' | 'ours' {
  if (version === 0 && tables.length === 0) return 'new';
  const ours = OUR_TABLES.every((table) => tables.includes(table));
  if (!ours) {
    const shown = tables.slice(0, 5).join(', ') + (tables.length > 5 ? ', …' : '');
    throw new InputError(
      `database ${path}: not a sparsetrace database (a SQLite file with ${tables.length === 0 ? 'no tables' : `tables ${shown}`}); it is left unchanged: give another --db`,
    );
  }
  if (version > SCHEMA_VERSION) {
    throw new InputError(`database ${path}: schema version ${version} was written by a newer sparsetrace (this one reads up to ${SCHEMA_VERSION}); upgrade sparsetrace`);
  }
  return 'ours';
}

function describeOpenError(path: string, error: unknown): SparsetraceError {
  if (error instanceof SparsetraceError) return error;
  const code = (error as { code?: string }).code;
  if (code === 'SQLITE_NOTADB') return new InputError(`database ${path}: not a SQLite database; give another --db`);
  return classify(error, `database ${path}`) ?? new CorruptStoreError(`database ${path}: not a usable sparsetrace database: ${(error as Error).message}`);
}

/**
 * Opens a sparsetrace database.
 *
 * For writing (the default) a new or empty file is created and initialised, an
 * older schema is migrated, both in one IMMEDIATE transaction that re-reads the
 * version (two processes on a new file cannot both create the tables) and checks
 * the writer lock (no migration under a live writer). A file that holds other
 * tables is refused before anything is written to it, WAL included.
 *
 * For reading nothing is created or changed: a database left in rollback mode
 * (as `closeDatabase` leaves it) opens read-only from a read-only file, folder
 * or media, without -wal/-shm files.
 */
export function openDatabase(path: string, options: OpenOptions = {}): Db {
  const readonly = options.readonly ?? false;
  const exists = checkDatabasePath(path);
  if ((readonly || options.mustExist) && !exists) throw new InputError(`database ${path}: no such file (run \`sparsetrace run\` first, or pass --db)`);
  // Before any connection: SQLite would replay a -wal that belongs to another file.
  if (exists) verifyWal(path);
  if (readonly) return openForReading(path);
  let db: Db;
  try {
    mkdirSync(dirname(path), { recursive: true });
    db = new Database(path);
  } catch (error) {
    throw describeOpenError(path, error);
  }
  try {
    db.pragma('busy_timeout = 5000');
    // Reports read the per-run BLOBs of whole sweeps: map the file rather than copy it page by page.
    db.pragma('mmap_size = 1073741824');
    const { version, tables } = inspectFile(db);
    checkOwnership(path, version, tables);
    // A new file gives back the pages a run kept as summaries frees (closeDatabase), so its size is its content.
    if (version === 0 && tables.length === 0) db.pragma('auto_vacuum = INCREMENTAL');
    // A writer_lock dropped by hand (`sql --write "DROP TABLE writer_lock"`) held no lock: it comes back empty.
    if (version === SCHEMA_VERSION && !tables.includes('writer_lock')) db.exec(WRITER_LOCK_TABLE);
    const holder = version > 0 ? liveLockHolder(db) : undefined;
    // No upgrade under a live writer.
    if (holder !== undefined && version < SCHEMA_VERSION) throw lockMessage(path, holder);
    if (holder === undefined && version === SCHEMA_VERSION) {
      // Left in WAL mode (a crash, a serve): its log, checked above, goes into the file first.
      leaveWal(db);
      renewGuardAtRest(db);
    }
    db.pragma('journal_mode = WAL');
    // In WAL mode NORMAL never corrupts and loses at most the last commits on power loss;
    // a resumed run recomputes those shards.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    registerFunctions(db);
    startWalUpkeep(db, path);
    // upgradeSchema re-reads the version in its own IMMEDIATE transaction, so two processes
    // on a new file cannot both create the tables.
    if (version < SCHEMA_VERSION) upgradeSchema(db);
    // The log this writer starts begins with a link to the file (walGuard.ts); a live writer keeps its own.
    if (holder === undefined) checkpointWal(db);
  } catch (error) {
    stopWalUpkeep(db);
    db.close();
    throw describeOpenError(path, error);
  }
  return db;
}

/** Switches a writer's connection out of WAL mode when it is the only one (folding the log into the file); otherwise leaves it. */
function leaveWal(db: Db): void {
  if (db.pragma('journal_mode', { simple: true }) !== 'wal') return;
  db.pragma('busy_timeout = 0');
  try {
    db.pragma('journal_mode = DELETE');
  } catch {
    // Another connection has it open: it stays in WAL mode.
  } finally {
    db.pragma('busy_timeout = 5000');
  }
}

function openForReading(path: string): Db {
  let db: Db;
  try {
    const header = readHeader(path);
    if (header.length === 0) throw new InputError(`database ${path}: an empty file, not a sparsetrace database`);
    if (!header.subarray(0, 16).equals(Buffer.from('SQLite format 3\0'))) throw new InputError(`database ${path}: not a SQLite database; give another --db`);
    // Left in WAL mode, or with a log beside it (a crash): back to rollback mode first, the log (checked) folded in.
    if (header[18] === 2 || existsSync(`${path}-wal`)) leaveWalMode(path);
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw describeOpenError(path, error);
  }
  try {
    db.pragma('busy_timeout = 5000');
    // Reports read the per-run BLOBs of whole sweeps: map the file rather than copy it page by page.
    db.pragma('mmap_size = 1073741824');
    // SQLite's own default page cache (2 MB), not better-sqlite3's 16 MB: a report's statements pass over a
    // sweep's rows once each, and filling 16 MB of new memory made a process's first pass over 10⁵ runs twice as
    // long (0.12 s against 0.06 s; the next passes 0.05 s either way).
    db.pragma('cache_size = -2000');
    registerFunctions(db);
    const { version, tables } = inspectFile(db);
    checkOwnership(path, version, tables);
    if (version === 0) throw new InputError(`database ${path}: not a sparsetrace database (it has no tables)`);
    if (version < SCHEMA_VERSION) {
      throw new InputError(
        `database ${path}: schema version ${version} was written by ${version === 1 ? 'sparsetrace 0.1.0' : 'an earlier sparsetrace'}; upgrade it once with \`sparsetrace migrate --db ${path}\` (any run on it does too)`,
      );
    }
  } catch (error) {
    db.close();
    const described = describeOpenError(path, error);
    if ((error as { code?: string }).code === 'SQLITE_CANTOPEN') {
      throw new EnvironmentError(
        `database ${path}: in WAL mode in a read-only folder or media, where SQLite cannot create the ${path}-shm it needs to read it; ` +
          'copy it to a writable folder (a database sparsetrace closed cleanly reads anywhere)',
      );
    }
    throw described;
  }
  return db;
}

/**
 * A database at rest in WAL mode (left by a crash, or by sparsetrace 0.1) would
 * make a read-only connection create -wal and -shm files beside it. Switching it
 * to rollback mode first (only possible when no other process has it open, and
 * the folder is writable) avoids that; when it is not possible, reading goes on.
 */
function leaveWalMode(path: string): void {
  try {
    // No waiting: a live writer keeps it in WAL mode, and the read goes on.
    const db = new Database(path, { fileMustExist: true, timeout: 0 });
    try {
      const { version, tables } = inspectFile(db);
      // Someone else's file is left as it is (the read then refuses it).
      if (version > 0 && OUR_TABLES.every((table) => tables.includes(table))) db.pragma('journal_mode = DELETE');
    } finally {
      db.close();
    }
  } catch {
    // Busy, read-only file or folder: read in WAL mode as it is.
  }
}

/**
 * Closes a database. A writer leaves it in rollback-journal mode when it is the
 * last connection, so that readers, also on read-only media, need no -wal/-shm
 * files; while other processes have it open it stays in WAL mode.
 */
export function closeDatabase(db: Db): void {
  stopWalUpkeep(db);
  if (!db.open) return;
  if (!db.readonly) {
    try {
      db.pragma('busy_timeout = 0');
      if (db.pragma('auto_vacuum', { simple: true }) === 2 && (db.pragma('freelist_count', { simple: true }) as number) > 0) db.pragma('incremental_vacuum');
      db.pragma('journal_mode = DELETE');
    } catch {
      // Another connection is open (or the disk is full): WAL mode stays, nothing is lost.
    }
  }
  db.close();
}
