import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import { renameDurably } from '../files.js';
import { stampSegment, type Db, type SegmentIdentity } from '../store/index.js';
import { checkWritableFolder } from './folders.js';
import { fileInside, nameProblem, safeName } from './names.js';

/**
 * Finished batches travel as SQLite files through a folder both sides see
 * (`--segments DIR`: local, or a network file system). A worker writes a
 * segment under a temporary name (starting with '.') and renames it, so the
 * coordinator only ever sees whole files, named `<batch>.<host>-<pid>-<ms>.segment.sqlite`.
 */
export const SEGMENT_SUFFIX = '.segment.sqlite';

/** The segments folder exists and this process can write it (workers write segments there, the coordinator deletes them). */
export function checkSegmentsFolder(dir: string): void {
  checkWritableFolder(dir, '--segments', 'segments of finished batches are written and deleted there');
}

/** The batch a segment's file name says it belongs to (the name is not trusted: its identity table is). */
export function batchOfSegmentName(name: string): string | undefined {
  const batch = name.split('.')[0];
  return nameProblem(batch) === undefined ? batch : undefined;
}

/**
 * Writes `db` (the worker's local database) as the segment of a batch: a compact
 * copy, stamped with whom it was made for (`identity`: the coordinator's job and
 * queue, the batch, its runs), then a rename. Returns its path.
 */
export function writeSegment(db: Db, dir: string, identity: Omit<SegmentIdentity, 'worker'>): string {
  // The batch id comes from the queue: checked again here, where it becomes a file name.
  const id = safeName(identity.batch, (problem) => new Error(`segment of batch ${problem}; refused`));
  const host = hostname().replace(/[^A-Za-z0-9_-]/g, '_');
  const name = `${id}.${host}-${process.pid}-${Date.now()}${SEGMENT_SUFFIX}`;
  const temporary = fileInside(dir, `.${name}.partial`);
  const final = fileInside(dir, name);
  rmSync(temporary, { force: true });
  db.prepare('VACUUM INTO ?').run(temporary);
  stampSegment(temporary, { ...identity, worker: `${host}-${process.pid}` });
  renameDurably(temporary, final);
  return final;
}

/** Whole segments waiting in the folder, oldest name first. */
export function listSegments(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith(SEGMENT_SUFFIX) && !name.startsWith('.'))
    .sort()
    .map((name) => join(dir, name));
}

/** The folder inside the segments folder where segments that are not merged are set aside, each with a `.reason.txt`. */
export const REJECTED_FOLDER = 'rejected';

/**
 * Moves a segment that will not be merged (damaged, incomplete, not a segment)
 * into `dir/rejected/`, with the reason beside it in `<name>.reason.txt`, so
 * that it no longer stands in the way and can be looked at. Returns its new
 * path, or undefined when it is gone already (another process took it away).
 */
export function setAside(dir: string, path: string, reason: string): string | undefined {
  const folder = join(dir, REJECTED_FOLDER);
  mkdirSync(folder, { recursive: true });
  const name = basename(path);
  let target = join(folder, name);
  // Never over another rejected segment (a name seen twice: a second copy of one batch's segment).
  for (let k = 2; existsSync(target) || existsSync(`${target}.reason.txt`); k++) target = join(folder, `${name}.${k}`);
  writeFileSync(`${target}.reason.txt`, `${reason}\n`);
  try {
    renameSync(path, target);
  } catch (error) {
    rmSync(`${target}.reason.txt`, { force: true });
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return target;
}
