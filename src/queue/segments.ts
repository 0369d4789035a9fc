import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Db } from '../store/index.js';
import { checkWritableFolder } from './folders.js';
import { fileInside, safeName } from './names.js';

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

/** Writes `db` (the worker's local database) as a segment of batch `batch`: a compact copy, then a rename. Returns its path. */
export function writeSegment(db: Db, dir: string, batch: string): string {
  // The batch id comes from the queue: checked again here, where it becomes a file name.
  const id = safeName(batch, (problem) => new Error(`segment of batch ${problem}; refused`));
  const host = hostname().replace(/[^A-Za-z0-9_-]/g, '_');
  const name = `${id}.${host}-${process.pid}-${Date.now()}${SEGMENT_SUFFIX}`;
  const temporary = fileInside(dir, `.${name}.partial`);
  const final = fileInside(dir, name);
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
