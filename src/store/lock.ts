import { hostname } from 'node:os';
import type { Db } from './db.js';

/** The process that holds a database's writer lock. */
export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  readonly command: string;
  readonly started_at: string;
}

/** Another live process is writing this database. */
export class DatabaseBusyError extends Error {
  override readonly name = 'DatabaseBusyError';
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The lock's holder if it is a live process; a lock left by a dead process counts as free. */
export function liveLockHolder(db: Db): LockHolder | undefined {
  const holder = db.prepare(`SELECT pid, host, command, started_at FROM writer_lock WHERE only_row = 1`).get() as LockHolder | undefined;
  if (holder === undefined) return undefined;
  // A lock from another host cannot be checked from here: treat it as live.
  if (holder.host !== hostname()) return holder;
  if (holder.pid === process.pid) return undefined;
  return isAlive(holder.pid) ? holder : undefined;
}

/**
 * Takes the one-writer lock of a database, in an IMMEDIATE transaction so two
 * processes cannot both take it. A lock left by a dead process on this host is
 * taken over (reported through `log`). Returns the function that releases it.
 */
export function acquireWriterLock(db: Db, path: string, command: string, log: (line: string) => void): () => void {
  const take = db.transaction((): LockHolder | undefined => {
    const recorded = db.prepare(`SELECT pid, host, command, started_at FROM writer_lock WHERE only_row = 1`).get() as LockHolder | undefined;
    const live = liveLockHolder(db);
    if (live !== undefined) return live;
    if (recorded !== undefined && recorded.pid !== process.pid) {
      log(`taking over the writer lock of ${path} left by process ${recorded.pid} (${recorded.command}, started ${recorded.started_at}), which is no longer running`);
    }
    db.prepare(
      `INSERT INTO writer_lock (only_row, pid, host, command, started_at) VALUES (1, ?, ?, ?, ?)
       ON CONFLICT (only_row) DO UPDATE SET pid = excluded.pid, host = excluded.host, command = excluded.command, started_at = excluded.started_at`,
    ).run(process.pid, hostname(), command, new Date().toISOString());
    return undefined;
  });
  const holder = take.immediate();
  if (holder !== undefined) {
    // A holder on another host (a shared disk, a container renamed by a reboot) may be dead; say how to clear it.
    const foreign =
      holder.host !== hostname()
        ? `; it runs on another host, so this one cannot tell whether it is still alive: if it is not, ` +
          `clear the lock with \`sparsetrace sql --write "DELETE FROM writer_lock" --db ${path}\``
        : '';
    throw new DatabaseBusyError(
      `database ${path}: process ${holder.pid} on ${holder.host} (${holder.command}, started ${holder.started_at}) is writing it; ` +
        `wait for it to finish, stop it, or pass --wait to wait for it${foreign}`,
    );
  }
  return () => {
    db.prepare(`DELETE FROM writer_lock WHERE only_row = 1 AND pid = ? AND host = ?`).run(process.pid, hostname());
  };
}
