import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import type { Db } from '../store/index.js';

/**
 * Finished batches travel as SQLite files through a folder both sides see
 * (`--segments DIR`: local, or a network file system). A worker writes a
 * segment under a temporary name (starting with '.') and renames it, so the
 * coordinator only ever sees whole files, named `<batch>.<host>-<pid>-<ms>.segment.sqlite`.
 */
export const SEGMENT_SUFFIX = '.segment.sqlite';

export function checkSegmentsFolder(dir: string): void {
  let isDirectory = false;
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch (error) {
    throw new InputError(`--segments ${dir}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such folder' : (error as Error).message}`);
  }
  if (!isDirectory) throw new InputError(`--segments ${dir}: not a folder`);
}

/** Writes `db` (the worker's local database) as a segment of batch `batch`: a compact copy, then a rename. Returns its path. */
export function writeSegment(db: Db, dir: string, batch: string): string {
  const name = `${batch}.${hostname()}-${process.pid}-${Date.now()}${SEGMENT_SUFFIX}`;
  const temporary = join(dir, `.${name}.partial`);
  const final = join(dir, name);
  rmSync(temporary, { force: true });
  db.prepare('VACUUM INTO ?').run(temporary);
  const fd = openSync(temporary, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, final);
  try {
    const folder = openSync(dir, 'r');
    try {
      fsyncSync(folder);
    } finally {
      closeSync(folder);
    }
  } catch {
    // Some file systems cannot fsync a folder; the rename is still atomic.
  }
  return final;
}

/** Whole segments waiting in the folder, oldest name first. */
export function listSegments(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith(SEGMENT_SUFFIX) && !name.startsWith('.'))
    .sort()
    .map((name) => join(dir, name));
}
