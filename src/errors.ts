/**
 * Every error a user can cause or meet, and the exit code of each. A command
 * throws one of these with a one-line message that names the thing (a file, a
 * flag, a database) and says what to do; the CLI prints the message and exits
 * with the class's code (src/cli/common.ts). Anything else is a bug: one line
 * too, and its stack with --debug (or SPARSETRACE_DEBUG=1).
 *
 *   0   done
 *   1   the environment or another process: a busy database, a full disk,
 *       permissions, the network, a corrupt store
 *   2   bad input: a flag, a job file, a model or data file, a SQL statement,
 *       a database path, a -wal file that is not the database's
 *   129/130/143 interrupted by SIGHUP/SIGINT/SIGTERM (committed work is kept)
 */
export const EXIT = {
  done: 0,
  failed: 1,
  badInput: 2,
} as const;

/** Exit code after an interruption: 128 + the signal's number, as shells expect. */
export const SIGNAL_EXIT: Readonly<Record<string, number>> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

export abstract class SparsetraceError extends Error {
  abstract readonly exitCode: number;
}

/** Bad input: a file, flag or job field the user gave that cannot be used. */
export class InputError extends SparsetraceError {
  override readonly name = 'InputError';
  readonly exitCode = EXIT.badInput;
}

/** Another live process is writing the database. */
export class BusyError extends SparsetraceError {
  override readonly name = 'BusyError';
  readonly exitCode = EXIT.failed;
}

/** The database holds something sparsetrace did not write (a damaged page, overlapping shards, a dropped table). */
export class CorruptStoreError extends SparsetraceError {
  override readonly name = 'CorruptStoreError';
  readonly exitCode = EXIT.failed;
}

/** The machine refused: a full disk, a read-only file system, permissions, a broken device. */
export class EnvironmentError extends SparsetraceError {
  override readonly name = 'EnvironmentError';
  readonly exitCode = EXIT.failed;
}

/** The queue's Redis cannot be reached, or refuses us (a password it does not take): fix the server or the address. */
export class QueueError extends SparsetraceError {
  override readonly name = 'QueueError';
  readonly exitCode = EXIT.failed;
}

/** A segment file that cannot be merged (another schema, or a run whose recorded shape differs): serve sets it aside. */
export class SegmentError extends SparsetraceError {
  override readonly name = 'SegmentError';
  readonly exitCode = EXIT.failed;
}

/**
 * A batch taken from the queue that must not be computed, nor tried again: a
 * malformed message, or a run this worker would compute differently. The queue
 * records it as failed for good (queue/transport.ts); serve re-enqueues its
 * runs when the queue runs dry.
 */
export class RefusedBatchError extends SparsetraceError {
  override readonly name = 'RefusedBatchError';
  readonly exitCode = EXIT.failed;
}

/** The reader of stdout went away (`| head`): the command stops quietly, successfully. */
export class BrokenPipeError extends SparsetraceError {
  override readonly name = 'BrokenPipeError';
  readonly exitCode = EXIT.done;
  constructor() {
    super('stdout closed by its reader');
  }
}

/** What a system error code means for the user, when it is the environment's doing. */
const SYSTEM_REASONS: Record<string, string> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is exhausted',
  EFBIG: 'the file is larger than allowed (ulimit -f?)',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EIO: 'input/output error (a failing disk?)',
  EMFILE: 'too many open files',
  ENOMEM: 'out of memory',
};

/** What a failed network connection's system error means, in words (Redis is the only peer a command keeps open). */
export const NETWORK_REASONS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'the host name cannot be resolved now (DNS)',
  ETIMEDOUT: 'no answer within 5 s',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'the connection was reset',
};

/** SQLite result codes (better-sqlite3's `code`) that are the environment's or the file's doing. */
const SQLITE_REASONS: Record<string, { make: (message: string) => SparsetraceError; reason: string }> = {
  SQLITE_FULL: { make: (m) => new EnvironmentError(m), reason: 'the disk is full' },
  SQLITE_IOERR: { make: (m) => new EnvironmentError(m), reason: 'input/output error (a failing disk, or a file size limit: ulimit -f)' },
  SQLITE_READONLY: { make: (m) => new EnvironmentError(m), reason: 'the database cannot be written (a read-only file, folder or media; report, export, sql, status and runs still read it)' },
  SQLITE_CANTOPEN: { make: (m) => new EnvironmentError(m), reason: 'cannot open the database file' },
  SQLITE_PERM: { make: (m) => new EnvironmentError(m), reason: 'permission denied' },
  SQLITE_NOMEM: { make: (m) => new EnvironmentError(m), reason: 'out of memory' },
  SQLITE_BUSY: { make: (m) => new BusyError(m), reason: 'another process holds the database locked' },
  SQLITE_LOCKED: { make: (m) => new BusyError(m), reason: 'the database is locked' },
  SQLITE_CORRUPT: { make: (m) => new CorruptStoreError(m), reason: 'the database file is damaged' },
  SQLITE_NOTADB: { make: (m) => new CorruptStoreError(m), reason: 'not a SQLite database' },
};

/**
 * Turns an error from the system or SQLite into one of ours, naming `what`
 * (e.g. "database results/x.sqlite"); returns undefined for anything else (a bug).
 */
export function classify(error: unknown, what?: string): SparsetraceError | undefined {
  if (error instanceof SparsetraceError) return error;
  if (!(error instanceof Error)) return undefined;
  const code = (error as NodeJS.ErrnoException).code;
  if (typeof code !== 'string') return undefined;
  const prefix = what ? `${what}: ` : '';
  if (code === 'EPIPE') return new BrokenPipeError();
  const system = SYSTEM_REASONS[code];
  if (system !== undefined) {
    const path = (error as NodeJS.ErrnoException).path;
    return new EnvironmentError(`${prefix || (path ? `${path}: ` : '')}${system} (${code})`);
  }
  const network = NETWORK_REASONS[code];
  if (network !== undefined) return new EnvironmentError(`${prefix}a network connection failed: ${network} (${error.message})`);
  if (code.startsWith('SQLITE_')) {
    const base = SQLITE_REASONS[code] ?? SQLITE_REASONS[code.replace(/^(SQLITE_[A-Z]+)_.*$/, '$1')];
    if (base !== undefined) return base.make(`${prefix}${base.reason} (${error.message}, ${code})`);
  }
  return undefined;
}
