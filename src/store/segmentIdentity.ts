import Database from 'better-sqlite3';
import { closeSync, lstatSync, openSync, readSync } from 'node:fs';
import { SCHEMA_VERSION } from './schema.js';

/**
 * Whom a segment was made for, written into it by the worker that made it (a
 * table of its own, `segment_identity`, in the segment only): the coordinator's
 * job and queue, the batch, and the runs the batch asked for. The coordinator
 * merges only segments made for its own job and queue, and only when every run
 * of the batch is in it, done.
 */
export interface SegmentIdentity {
  /** The coordinator's job: its sha256 (jobs.job_sha256 in the coordinator's database). */
  readonly jobSha256: string;
  /** The queue the batch was taken from. */
  readonly queue: string;
  readonly batch: string;
  /** The runs the batch asked for. */
  readonly runIds: readonly string[];
  /** Who wrote it (host-pid), for messages. */
  readonly worker: string;
}

/** The identity table's format; another one is refused as written by another version. */
export const SEGMENT_FORMAT = 'sparsetrace-segment/1';

const IDENTITY_TABLE = `
  CREATE TABLE segment_identity (
    only_row   INTEGER PRIMARY KEY CHECK (only_row = 1),
    format     TEXT NOT NULL,
    job_sha256 TEXT NOT NULL,
    queue      TEXT NOT NULL,
    batch      TEXT NOT NULL,
    run_ids    TEXT NOT NULL,
    worker     TEXT NOT NULL,
    written_at TEXT NOT NULL
  );
`;

/** Writes `identity` into the segment at `path` (a fresh copy no one else has open yet). */
export function stampSegment(path: string, identity: SegmentIdentity): void {
  const db = new Database(path, { fileMustExist: true });
  try {
    db.transaction(() => {
      db.exec(IDENTITY_TABLE);
      db.prepare(`INSERT INTO segment_identity (only_row, format, job_sha256, queue, batch, run_ids, worker, written_at) VALUES (1, ?, ?, ?, ?, ?, ?, ?)`).run(
        SEGMENT_FORMAT,
        identity.jobSha256,
        identity.queue,
        identity.batch,
        identity.runIds.join(','),
        identity.worker,
        new Date().toISOString(),
      );
    })();
  } finally {
    db.close();
  }
}

/** A segment as read before merging: whom it was made for and the state of its runs, or why it cannot be used. */
export type SegmentInspection =
  | { readonly kind: 'readable'; readonly identity: SegmentIdentity; readonly runs: ReadonlyMap<string, string> }
  | { readonly kind: 'unusable'; readonly reason: string };

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0');

/**
 * Reads a segment without changing it: a regular file, a whole SQLite database
 * (`PRAGMA quick_check` reads every page: a truncated or altered file fails
 * here, not halfway through a merge), of this schema, with an identity. What
 * it says is not trusted yet: the caller compares it with its own job.
 */
export function inspectSegment(path: string): SegmentInspection {
  const unusable = (reason: string): SegmentInspection => ({ kind: 'unusable', reason });
  let size: number;
  try {
    const stats = lstatSync(path);
    if (stats.isDirectory()) return unusable('a folder, not a segment file');
    if (!stats.isFile()) return unusable('not a regular file (a link, FIFO or device)');
    size = stats.size;
  } catch (error) {
    return unusable(`cannot be read: ${(error as Error).message}`);
  }
  if (size === 0) return unusable('an empty file');
  const header = Buffer.alloc(SQLITE_MAGIC.length);
  try {
    const fd = openSync(path, 'r');
    try {
      readSync(fd, header, 0, header.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    return unusable(`cannot be read: ${(error as Error).message}`);
  }
  if (!header.equals(SQLITE_MAGIC)) return unusable('not a SQLite database');
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (error) {
    return unusable(`cannot be opened: ${(error as Error).message}`);
  }
  try {
    const check = db.pragma('quick_check(1)', { simple: true }) as string;
    if (check !== 'ok') return unusable(`damaged (truncated or altered): ${check}`);
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version !== SCHEMA_VERSION) return unusable(`schema version ${version}, expected ${SCHEMA_VERSION} (written by another sparsetrace version?)`);
    const hasIdentity = db.prepare(`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('segment_identity', 'runs')`).pluck().get() === 2;
    if (!hasIdentity) return unusable('no segment_identity table (written by an older sparsetrace, or not by a worker)');
    const row = db.prepare(`SELECT format, job_sha256, queue, batch, run_ids, worker FROM segment_identity WHERE only_row = 1`).get() as
      | { format: unknown; job_sha256: unknown; queue: unknown; batch: unknown; run_ids: unknown; worker: unknown }
      | undefined;
    if (row === undefined) return unusable('its segment_identity table is empty');
    if (row.format !== SEGMENT_FORMAT) return unusable(`identity format ${JSON.stringify(String(row.format)).slice(0, 60)}, expected ${SEGMENT_FORMAT}`);
    const texts = [row.job_sha256, row.queue, row.batch, row.run_ids, row.worker];
    if (!texts.every((value) => typeof value === 'string')) return unusable('its segment_identity row is not text');
    const runs = new Map((db.prepare(`SELECT run_id, status FROM runs`).raw().all() as [string, string][]).map(([id, status]) => [id, status]));
    const identity: SegmentIdentity = {
      jobSha256: row.job_sha256 as string,
      queue: row.queue as string,
      batch: row.batch as string,
      runIds: (row.run_ids as string) === '' ? [] : (row.run_ids as string).split(','),
      worker: row.worker as string,
    };
    return { kind: 'readable', identity, runs };
  } catch (error) {
    return unusable(`damaged (truncated or altered): ${(error as Error).message}`);
  } finally {
    db.close();
  }
}
