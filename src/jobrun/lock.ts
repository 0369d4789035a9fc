import { classify } from '../errors.js';
import { acquireWriterLock, DatabaseBusyError, type Db } from '../store/index.js';

export interface LockOptions {
  /** The command line others see in the lock (a refused writer, `unlock`). */
  readonly command: string;
  /** Wait for another writer to finish rather than fail. */
  readonly wait: boolean;
  readonly log: (line: string) => void;
}

/**
 * Takes the database's writer lock for this process (every writer does: run,
 * resume, serve, worker, sql --write, rm, migrate); with `wait`, waits for
 * another writer to finish instead of failing. Returns the release function.
 */
export async function lockStore(db: Db, dbPath: string, options: LockOptions): Promise<() => void> {
  for (let announced = false; ; ) {
    try {
      return acquireWriterLock(db, dbPath, options.command, options.log);
    } catch (error) {
      // Busy: the lock is held, or another process is in the middle of a write (SQLITE_BUSY).
      const known = classify(error, `database ${dbPath}`);
      if (!(known instanceof DatabaseBusyError) || !options.wait) throw known ?? error;
      if (!announced) options.log(`${known.message}; waiting (--wait)`);
      announced = true;
      await new Promise((done) => setTimeout(done, 1000));
    }
  }
}
