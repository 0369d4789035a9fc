import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { InputError } from '../errors.js';
import type { Db } from './db.js';
import { WAL_GUARD_TABLE } from './schema.js';
import { perConnection } from './statements.js';

/**
 * A database and its write-ahead log belong together, and this file checks it.
 *
 * SQLite replays any valid `-wal` file beside a database, whoever wrote it: the
 * log of another database, or a database's own log beside an older copy of the
 * file restored from a backup, would silently become the database's content
 * (the next writer's checkpoint makes it permanent). Nothing in a `-wal` names
 * its database, so sparsetrace writes the link itself:
 *
 * - `wal_guard` holds one row, (base, token). Every write-ahead log a
 *   sparsetrace writer starts begins with a commit that sets `base` to the token
 *   the database file holds and `token` to a new random one ("opening a link").
 *   A writer's connections never checkpoint by themselves
 *   (`wal_autocheckpoint = 0`); they checkpoint through `checkpointWal`, which
 *   opens a link as the next commit whenever the log was copied into the
 *   database entirely (the only moment SQLite starts the log over). So every log
 *   that holds a committed transaction holds, in its committed frames, the page
 *   of `wal_guard` with the database file's token as `base` (or, once a
 *   checkpoint copied that page into the file, as `token`).
 * - A writer that finds the database at rest (rollback mode, as writers leave
 *   it) first gives it a new token in the file itself, so that a byte copy of
 *   the file (a backup, `cp`) and the original never share a link.
 * - Before anything is read, `verifyWal` reads the `-wal` file and the
 *   database file's `wal_guard` page directly (no SQLite connection, which would
 *   replay the log), and refuses a log whose committed frames do not link to
 *   the file.
 *
 * A database with no `wal_guard` in its file (written before this check, or new)
 * cannot be checked; its log is replayed as SQLite does.
 */

/** Written by SQLite in the -wal header: the checksum's byte order is in the low bit. */
const WAL_MAGIC = 0x377f0682;
const WAL_VERSION = 3007000;
const WAL_HEADER_BYTES = 32;
const FRAME_HEADER_BYTES = 24;

/** A page of the wal_guard table as stored: its row's base and token. */
interface GuardRow {
  readonly base: string;
  readonly token: string;
}

/** The database file's side: its page size and wal_guard (root page and row), read from the file alone. */
interface FileGuard {
  readonly pageSize: number;
  readonly rootPage: number;
  readonly row: GuardRow | undefined;
}

class Unreadable extends Error {}

/** SQLite's WAL checksum over `bytes` (a multiple of 8), continuing from `s`: two running sums of 32-bit words. */
function walChecksum(bytes: Buffer, bigEndian: boolean, s: [number, number]): [number, number] {
  let [s1, s2] = s;
  for (let at = 0; at < bytes.length; at += 8) {
    const x0 = bigEndian ? bytes.readUInt32BE(at) : bytes.readUInt32LE(at);
    const x1 = bigEndian ? bytes.readUInt32BE(at + 4) : bytes.readUInt32LE(at + 4);
    s1 = (s1 + x0 + s2) >>> 0;
    s2 = (s2 + x1 + s1) >>> 0;
  }
  return [s1, s2];
}

/** A -wal file's header, when SQLite would use it: what its frames are checked against. */
interface WalHeader {
  readonly pageSize: number;
  /** The checksum reads 32-bit words big-endian (the magic's low bit). */
  readonly bigEndian: boolean;
  readonly salts: readonly [number, number];
  /** The header's checksum, where the frames' running checksum starts. */
  readonly sums: [number, number];
}

function walHeader(bytes: Buffer): WalHeader | undefined {
  if (bytes.length < WAL_HEADER_BYTES) return undefined;
  const magic = bytes.readUInt32BE(0);
  if ((magic & 0xfffffffe) !== WAL_MAGIC || bytes.readUInt32BE(4) !== WAL_VERSION) return undefined;
  const pageSize = bytes.readUInt32BE(8);
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) return undefined;
  const bigEndian = (magic & 1) === 1;
  const sums = walChecksum(bytes.subarray(0, 24), bigEndian, [0, 0]);
  if (sums[0] !== bytes.readUInt32BE(24) || sums[1] !== bytes.readUInt32BE(28)) return undefined;
  return { pageSize, bigEndian, salts: [bytes.readUInt32BE(16), bytes.readUInt32BE(20)], sums };
}

/** A frame of a -wal file: a page's new image. */
interface Frame {
  readonly page: number;
  readonly image: Buffer;
}

/**
 * Reads a -wal file's transactions in order, as SQLite's recovery does (wal.c,
 * walIndexRecover): frames while their salts are the header's and their
 * running checksum holds; a transaction counts once its commit frame (the one
 * that carries the database's size) is valid. `read(offset, length)` gives the
 * file's bytes (fewer at its end); `committed` gets each committed
 * transaction's frames and returns true to stop there. Returns the number of
 * committed frames read.
 */
function scanWal(read: (offset: number, length: number) => Buffer, header: WalHeader, committed: (frames: Frame[]) => boolean): number {
  const { pageSize, bigEndian, salts } = header;
  let sums = header.sums;
  let committedFrames = 0;
  let transaction: Frame[] = [];
  for (let frame = 0; ; frame++) {
    const bytes = read(WAL_HEADER_BYTES + frame * (FRAME_HEADER_BYTES + pageSize), FRAME_HEADER_BYTES + pageSize);
    if (bytes.length < FRAME_HEADER_BYTES + pageSize) break;
    const page = bytes.readUInt32BE(0);
    if (page === 0 || bytes.readUInt32BE(8) !== salts[0] || bytes.readUInt32BE(12) !== salts[1]) break;
    const image = bytes.subarray(FRAME_HEADER_BYTES);
    const next = walChecksum(image, bigEndian, walChecksum(bytes.subarray(0, 8), bigEndian, sums));
    if (next[0] !== bytes.readUInt32BE(16) || next[1] !== bytes.readUInt32BE(20)) break;
    sums = next;
    transaction.push({ page, image });
    if (bytes.readUInt32BE(4) !== 0) {
      committedFrames = frame + 1;
      if (committed(transaction)) break;
      transaction = [];
    }
  }
  return committedFrames;
}

/**
 * What SQLite would replay of a -wal file's bytes: its page size, its committed
 * frames and their images of page `page`; undefined when SQLite would ignore it.
 */
export function readWal(wal: Buffer, page: number): { pageSize: number; committedFrames: number; images: Buffer[] } | undefined {
  const header = walHeader(wal.subarray(0, WAL_HEADER_BYTES));
  if (header === undefined) return undefined;
  const images: Buffer[] = [];
  const committedFrames = scanWal(
    (offset, length) => wal.subarray(offset, offset + length),
    header,
    (frames) => {
      for (const frame of frames) if (frame.page === page) images.push(frame.image);
      return false;
    },
  );
  return { pageSize: header.pageSize, committedFrames, images };
}

/** A SQLite varint at `at`: its value (exact up to 2^53) and length. */
function varint(bytes: Buffer, at: number): [number, number] {
  let value = 0;
  for (let k = 0; k < 8; k++) {
    if (at + k >= bytes.length) throw new Unreadable('varint past the end');
    const byte = bytes[at + k];
    value = value * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) return [value, k + 1];
  }
  if (at + 8 >= bytes.length) throw new Unreadable('varint past the end');
  return [value * 256 + bytes[at + 8], 9];
}

/** The values of a record (SQLite's record format): integers, floats as numbers, text as strings, blobs as Buffers. */
function decodeRecord(payload: Buffer): (number | string | Buffer | null)[] {
  const [headerBytes, first] = varint(payload, 0);
  const types: number[] = [];
  for (let at = first; at < headerBytes; ) {
    const [type, length] = varint(payload, at);
    types.push(type);
    at += length;
  }
  const values: (number | string | Buffer | null)[] = [];
  let at = headerBytes;
  for (const type of types) {
    const sizes = [0, 1, 2, 3, 4, 6, 8, 8, 0, 0];
    const size = type < 10 ? sizes[type] : type >= 12 ? Math.floor((type - 12) / 2) : 0;
    if (at + size > payload.length) throw new Unreadable('record past its payload');
    if (type === 0) values.push(null);
    else if (type <= 6) values.push(size === 8 ? Number(payload.readBigInt64BE(at)) : payload.readIntBE(at, size));
    else if (type === 7) values.push(payload.readDoubleBE(at));
    else if (type === 8 || type === 9) values.push(type - 8);
    else if (type >= 13 && type % 2 === 1) values.push(payload.toString('utf8', at, at + size));
    else values.push(payload.subarray(at, at + size));
    at += size;
  }
  return values;
}

/**
 * Reads SQLite database pages for the few records the check needs: a table
 * b-tree's rows, overflow pages followed. `page(n)` gives page n's bytes.
 */
class PageReader {
  private visited = 0;

  constructor(
    private readonly page: (n: number) => Buffer,
    private readonly usable: number,
  ) {}

  /** Every row's record of the table b-tree rooted at `root`. */
  rows(root: number, image?: Buffer): (number | string | Buffer | null)[][] {
    const records: (number | string | Buffer | null)[][] = [];
    const visit = (n: number, bytes: Buffer): void => {
      if (++this.visited > 10_000) throw new Unreadable('too many pages');
      const start = n === 1 ? 100 : 0;
      const kind = bytes[start];
      const cells = bytes.readUInt16BE(start + 3);
      if (kind === 0x05) {
        for (let k = 0; k < cells; k++) {
          const cell = bytes.readUInt16BE(start + 12 + 2 * k);
          const child = bytes.readUInt32BE(cell);
          visit(child, this.page(child));
        }
        const right = bytes.readUInt32BE(start + 8);
        visit(right, this.page(right));
      } else if (kind === 0x0d) {
        for (let k = 0; k < cells; k++) records.push(decodeRecord(this.payload(bytes, bytes.readUInt16BE(start + 8 + 2 * k))));
      } else {
        throw new Unreadable(`page ${n} is not a table b-tree page`);
      }
    };
    visit(root, image ?? this.page(root));
    return records;
  }

  /** A table leaf cell's payload, with its overflow pages. */
  private payload(page: Buffer, cell: number): Buffer {
    const [size, sizeBytes] = varint(page, cell);
    const [, rowidBytes] = varint(page, cell + sizeBytes);
    const at = cell + sizeBytes + rowidBytes;
    const U = this.usable;
    const maxLocal = U - 35;
    const minLocal = Math.floor(((U - 12) * 32) / 255) - 23;
    let local = size;
    if (size > maxLocal) {
      const k = minLocal + ((size - minLocal) % (U - 4));
      local = k <= maxLocal ? k : minLocal;
    }
    if (at + local > page.length) throw new Unreadable('cell past its page');
    const parts = [page.subarray(at, at + local)];
    let have = local;
    let next = local < size ? page.readUInt32BE(at + local) : 0;
    while (have < size) {
      if (next === 0 || ++this.visited > 10_000) throw new Unreadable('broken overflow chain');
      const overflow = this.page(next);
      const take = Math.min(size - have, U - 4);
      parts.push(overflow.subarray(4, 4 + take));
      have += take;
      next = overflow.readUInt32BE(0);
    }
    return Buffer.concat(parts);
  }
}

/** The database file's page size and wal_guard, from its bytes alone; undefined when it has no wal_guard. */
function readFileGuard(path: string): FileGuard | undefined {
  const fd = openSync(path, 'r');
  try {
    const header = Buffer.alloc(100);
    if (readSync(fd, header, 0, 100, 0) < 100) return undefined;
    if (header.toString('latin1', 0, 16) !== 'SQLite format 3\0') return undefined;
    const stored = header.readUInt16BE(16);
    const pageSize = stored === 1 ? 65536 : stored;
    const size = fstatSync(fd).size;
    const page = (n: number): Buffer => {
      if (n < 1 || n * pageSize > size) throw new Unreadable(`page ${n} is past the end of the file`);
      const bytes = Buffer.alloc(pageSize);
      if (readSync(fd, bytes, 0, pageSize, (n - 1) * pageSize) !== pageSize) throw new Unreadable(`page ${n} is short`);
      return bytes;
    };
    const reader = new PageReader(page, pageSize - header[20]);
    // sqlite_schema: type, name, tbl_name, rootpage, sql.
    const entry = reader.rows(1).find((row) => row[0] === 'table' && row[1] === 'wal_guard');
    if (entry === undefined || typeof entry[3] !== 'number') return undefined;
    const rootPage = entry[3];
    return { pageSize, rootPage, row: guardRow(reader.rows(rootPage)) };
  } finally {
    closeSync(fd);
  }
}

/** The row of a wal_guard page's records (only_row, base, token), if it has one. */
function guardRow(records: (number | string | Buffer | null)[][]): GuardRow | undefined {
  const row = records[0];
  if (row === undefined || typeof row[1] !== 'string' || typeof row[2] !== 'string') return undefined;
  return { base: row[1], token: row[2] };
}

/** The outcome of one look at a database and its -wal: a mismatch, or a file read while a writer changed it. */
type Verdict = 'fits' | 'cannot-check' | 'unsettled' | { readonly problem: string };

function judge(path: string): Verdict {
  let fd: number;
  try {
    fd = openSync(`${path}-wal`, 'r');
  } catch (error) {
    // No -wal: nothing to replay. Unreadable: SQLite says so when it opens it.
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'fits' : 'cannot-check';
  }
  try {
    const read = (offset: number, length: number): Buffer => {
      const bytes = Buffer.alloc(length);
      return bytes.subarray(0, readSync(fd, bytes, 0, length, offset));
    };
    const header = walHeader(read(0, WAL_HEADER_BYTES));
    if (header === undefined) return 'fits';
    let guard: FileGuard | undefined;
    try {
      guard = readFileGuard(path);
    } catch (error) {
      return error instanceof Unreadable ? 'unsettled' : 'cannot-check';
    }
    const row = guard?.row;
    if (guard === undefined || row === undefined) {
      // Nothing to link to: only an empty log is known to be harmless.
      return scanWal(read, header, () => true) === 0 ? 'fits' : 'cannot-check';
    }
    const { pageSize, rootPage } = guard;
    let linked = false;
    let links = 0;
    // The first transaction of a log is its link, normally: reading stops there.
    const committedFrames = scanWal(read, header, (frames) => {
      for (const frame of frames) {
        if (frame.page !== rootPage || header.pageSize !== pageSize) continue;
        links++;
        try {
          const link = guardRow(new PageReader(() => frame.image, pageSize).rows(rootPage, frame.image));
          linked = link !== undefined && (link.base === row.token || link.token === row.token);
        } catch {
          // Not a wal_guard page as this file lays it out: another database's page of that number.
        }
        if (linked) return true;
      }
      return false;
    });
    if (linked || committedFrames === 0) return 'fits';
    if (header.pageSize !== pageSize) return { problem: `pages of ${header.pageSize} bytes, the file's are of ${pageSize}` };
    return { problem: links === 0 ? 'no link to this file' : 'a link to another state of the file' };
  } finally {
    closeSync(fd);
  }
}

/** Blocks this thread for `ms` (openDatabase is synchronous). */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Refuses a `-wal` file that does not belong to the database at `path`, before
 * any SQLite connection replays it (InputError, exit 2: the pair of files the
 * user pointed at). A live writer may checkpoint while this reads: a mismatch
 * is looked at again before it is believed.
 */
export function verifyWal(path: string): void {
  let verdict = judge(path);
  for (let attempt = 1; (verdict === 'unsettled' || typeof verdict === 'object') && attempt < 4; attempt++) {
    pause(25 * attempt);
    verdict = judge(path);
  }
  // A file that stays unreadable is SQLite's to judge (it names the damage).
  if (typeof verdict !== 'object') return;
  throw new InputError(
    `database ${path}: its write-ahead log ${path}-wal does not belong to it (${verdict.problem}): ` +
      `it is another database's log, or this file was restored from a copy older than the log; nothing was read or changed: ` +
      `move ${path}-wal and ${path}-shm aside to use the file as it is, or put back the database file the log belongs to`,
  );
}

const guardStatements = perConnection((db: Db) => ({
  open: db.prepare(
    `INSERT INTO wal_guard (only_row, base, token) VALUES (1, '', ?)
     ON CONFLICT (only_row) DO UPDATE SET base = token, token = excluded.token`,
  ),
}));

/** A new link: base = the token the file holds, a new token (creates the table if someone dropped it). */
function openLink(db: Db): void {
  if (db.prepare(`SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'wal_guard'`).get() === undefined) db.exec(WAL_GUARD_TABLE);
  guardStatements(db).open.run(randomBytes(16).toString('hex'));
}

/**
 * At a writer's start, with the database at rest (rollback mode, no live
 * writer): a new token written into the file itself, so that no copy of the
 * file shares the links this writer's logs will make. Best effort: a reader
 * holding the file keeps the old token, which is still sound.
 */
export function renewGuardAtRest(db: Db): void {
  if (db.pragma('journal_mode', { simple: true }) === 'wal') return;
  try {
    db.transaction(() => openLink(db)).immediate();
  } catch (error) {
    if (!/^SQLITE_BUSY/.test((error as { code?: string }).code ?? '')) throw error;
  }
}

/**
 * Checkpoints the log (PASSIVE: never waits for readers); when it was copied
 * into the database entirely, SQLite starts the log over at the next commit,
 * which is made to be a new link. Returns whether a link was opened.
 */
export function checkpointWal(db: Db): boolean {
  const [result] = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
  if (result === undefined || result.busy !== 0 || result.log < 0 || result.log !== result.checkpointed) return false;
  db.transaction(() => openLink(db)).immediate();
  return true;
}

/**
 * A writer checkpoints once its log has grown by this many pages (16 MB of 4 KB pages; SQLite's own default
 * is 1000). Each checkpoint also syncs the file, whose writeback then runs on the writer's thread: at 1000
 * pages the checkpoints cost that thread about 0.6 ms per 1,000 positions of a 96-window sweep, at 4000
 * about 0.25 ms, the bytes written the same.
 */
export const CHECKPOINT_PAGES = 4000;
/** How often a writer looks at its log's size (a stat between its transactions). */
const UPKEEP_MS = 250;
const upkeep = new WeakMap<Db, NodeJS.Timeout>();

/**
 * Makes a writer connection checkpoint only through checkpointWal: SQLite's
 * automatic checkpoints off, the log's size looked at four times a second between
 * transactions, and a checkpoint (with its new link) once it has grown by
 * CHECKPOINT_PAGES pages. The log file is cut back to that size when it starts over.
 */
export function startWalUpkeep(db: Db, path: string): void {
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const limit = CHECKPOINT_PAGES * pageSize;
  db.pragma('wal_autocheckpoint = 0');
  db.pragma(`journal_size_limit = ${limit}`);
  let checkpointedAt = walSize(path);
  const timer = setInterval(() => {
    if (!db.open) {
      clearInterval(timer);
      return;
    }
    if (db.inTransaction || walSize(path) < checkpointedAt + limit) return;
    try {
      checkpointWal(db);
    } catch {
      // Busy, or a statement of the writer's is iterating: the next look tries again.
    }
    checkpointedAt = walSize(path);
  }, UPKEEP_MS);
  timer.unref();
  upkeep.set(db, timer);
}

/** Stops a connection's upkeep (closeDatabase). */
export function stopWalUpkeep(db: Db): void {
  clearInterval(upkeep.get(db));
  upkeep.delete(db);
}

function walSize(path: string): number {
  try {
    return statSync(`${path}-wal`).size;
  } catch {
    return 0;
  }
}
