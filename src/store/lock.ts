import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { BusyError } from '../errors.js';
import { redactSecrets } from '../redact.js';
import type { Db } from './db.js';
import { WRITER_LOCK_TABLE } from './schema.js';

/** The process that holds a database's writer lock. */
export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  readonly command: string;
  readonly started_at: string;
}

/** Another live process is writing this database (kept under its old name for the store's callers). */
export { BusyError as DatabaseBusyError };

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** When a process started (ms since the epoch), from Linux's /proc; undefined where that cannot be read. */
function processStartMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name "(…)": state is field 3, starttime field 22 (clock ticks after boot).
    const startTicks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    const bootSeconds = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    const ms = (bootSeconds + startTicks / 100) * 1000;
    return Number.isFinite(ms) ? ms : undefined;
  } catch {
    return undefined;
  }
}

function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return undefined;
  }
}

/**
 * Whether a lock's pid on this host is plausibly the process that took it: it is
 * alive, it started before the lock was taken (a pid reused after a reboot or a
 * wrap-around started later), and it is a Node process. On systems without
 * /proc only liveness is checked.
 */
function plausibleWriter(holder: LockHolder): boolean {
  if (holder.pid === process.pid) return false;
  if (!isAlive(holder.pid)) return false;
  const started = processStartMs(holder.pid);
  const locked = Date.parse(holder.started_at);
  // Boot time has one-second resolution: allow two seconds of slack.
  if (started !== undefined && Number.isFinite(locked) && started > locked + 2000) return false;
  const command = commandLine(holder.pid);
  if (command !== undefined && command !== '' && !/node|sparsetrace/.test(command)) return false;
  return true;
}

function recordedHolder(db: Db): LockHolder | undefined {
  try {
    const holder = db.prepare(`SELECT pid, host, command, started_at FROM writer_lock WHERE only_row = 1`).get() as LockHolder | undefined;
    // A lock recorded before commands were redacted may still show a password: never print it.
    return holder === undefined ? undefined : { ...holder, command: redactSecrets(holder.command) };
  } catch (error) {
    // Dropped by hand: it holds no lock (a writer recreates it when it opens the file, open.ts).
    if (/no such table: writer_lock/.test((error as Error).message)) return undefined;
    throw error;
  }
}

/** Whoever the writer_lock table names, alive or not (status tells a gone writer from none). */
export function recordedLockHolder(db: Db): LockHolder | undefined {
  return recordedHolder(db);
}

/** The lock's holder if it is a live process; a lock left by a dead process counts as free. */
export function liveLockHolder(db: Db): LockHolder | undefined {
  const holder = recordedHolder(db);
  if (holder === undefined) return undefined;
  // A lock from another host cannot be checked from here: treat it as live.
  if (holder.host !== hostname()) return holder;
  return plausibleWriter(holder) ? holder : undefined;
}

/** The most recent shard commit, a sign of life of a writer this host cannot check. */
function lastCommit(db: Db): string | undefined {
  try {
    return (db.prepare(`SELECT max(committed_at) AS at FROM shards`).get() as { at: string | null }).at ?? undefined;
  } catch {
    return undefined;
  }
}

/** The error for a database another process writes, with what to do about it. */
export function lockMessage(path: string, holder: LockHolder, lastActivity?: string): BusyError {
  // A holder on another host (a shared disk, a container renamed by a reboot) may be dead; say how to clear it.
  // The last shard commit is its heartbeat: a run commits one every few seconds.
  const activity = lastActivity ? ` (last shard committed ${lastActivity})` : '';
  const foreign =
    holder.host !== hostname()
      ? `; it runs on another host, so this one cannot tell whether it is still alive${activity}: if it is not, clear the lock with \`sparsetrace unlock --db ${path}\``
      : '';
  return new BusyError(
    `database ${path}: process ${holder.pid} on ${holder.host} (${holder.command}, started ${holder.started_at}) is writing it; ` +
      `wait for it to finish, stop it, or pass --wait to wait for it${foreign}`,
  );
}

/**
 * Takes the one-writer lock of a database, in an IMMEDIATE transaction so two
 * processes cannot both take it. A lock left by a dead process on this host is
 * taken over (reported through `log`). `command` is stored with its secrets
 * masked (a `--queue` URL's password): others read it. Returns the function that releases it;
 * releasing never throws (a lock it cannot remove is stale once this process ends).
 */
export function acquireWriterLock(db: Db, path: string, command: string, log: (line: string) => void): () => void {
  const take = db.transaction((): LockHolder | undefined => {
    const recorded = recordedHolder(db);
    const live = liveLockHolder(db);
    if (live !== undefined) return live;
    if (recorded !== undefined && recorded.pid !== process.pid) {
      log(`taking over the writer lock of ${path} left by process ${recorded.pid} (${recorded.command}, started ${recorded.started_at}), which is no longer running`);
    }
    db.prepare(
      `INSERT INTO writer_lock (only_row, pid, host, command, started_at) VALUES (1, ?, ?, ?, ?)
       ON CONFLICT (only_row) DO UPDATE SET pid = excluded.pid, host = excluded.host, command = excluded.command, started_at = excluded.started_at`,
    ).run(process.pid, hostname(), redactSecrets(command), new Date().toISOString());
    return undefined;
  });
  let holder: LockHolder | undefined;
  try {
    holder = take.immediate();
  } catch (error) {
    // The writer is in the middle of a commit (or stopped in one): name it if the lock says who it is.
    if ((error as { code?: string }).code !== 'SQLITE_BUSY') throw error;
    holder = liveLockHolder(db);
    if (holder === undefined) throw error;
  }
  if (holder !== undefined) throw lockMessage(path, holder, holder.host !== hostname() ? lastCommit(db) : undefined);
  return () => {
    try {
      db.prepare(`DELETE FROM writer_lock WHERE only_row = 1 AND pid = ? AND host = ?`).run(process.pid, hostname());
    } catch (error) {
      if (/no such table/.test((error as Error).message) && restoreLockTable(db)) {
        log(`note: writer_lock of ${path} was dropped; it is back (empty): sparsetrace needs it to keep to one writer at a time`);
        return;
      }
      log(`note: could not release the writer lock of ${path} (${(error as Error).message}); the next writer takes it over once this process has ended`);
    }
  };
}

/** Recreates a dropped writer_lock (`sql --write "DROP TABLE writer_lock"`); the next writer would too (open.ts). */
function restoreLockTable(db: Db): boolean {
  try {
    db.exec(WRITER_LOCK_TABLE);
    return true;
  } catch {
    return false;
  }
}

/** What `unlock` did. */
export type UnlockOutcome =
  | { readonly kind: 'none' }
  | { readonly kind: 'removed'; readonly holder: LockHolder }
  | { readonly kind: 'confirm'; readonly holder: LockHolder; readonly lastCommit?: string };

/**
 * Removes a writer lock nobody holds any more. A live writer on this host is
 * refused (stop it instead); a lock from another host is removed only when
 * `confirmPid` names its pid, since this host cannot tell whether it runs.
 */
export function clearWriterLock(db: Db, path: string, confirmPid?: number): UnlockOutcome {
  return db
    .transaction((): UnlockOutcome => {
      const holder = recordedHolder(db);
      if (holder === undefined) return { kind: 'none' };
      if (holder.host === hostname() && plausibleWriter(holder)) {
        throw new BusyError(
          `database ${path}: process ${holder.pid} (${holder.command}, started ${holder.started_at}) is alive and holds the writer lock; ` +
            `stop it (Ctrl-C, or kill ${holder.pid}) rather than unlocking`,
        );
      }
      if (holder.host !== hostname() && confirmPid !== holder.pid) return { kind: 'confirm', holder, lastCommit: lastCommit(db) };
      db.prepare(`DELETE FROM writer_lock WHERE only_row = 1`).run();
      return { kind: 'removed', holder };
    })
    .immediate();
}
