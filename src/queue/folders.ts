import { closeSync, mkdirSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { classify, EnvironmentError, InputError } from '../errors.js';

/**
 * Checks at start that a folder exists (or, with `create`, makes it) and that
 * this process can create, write and delete a file in it: a worker that cannot
 * hand in a segment would otherwise find out only after computing its first
 * batch. A real file is written, since permission bits do not tell the whole
 * story (a read-only mount, an NFS export squashing root, a full disk).
 */
export function checkWritableFolder(dir: string, flag: string, purpose: string, options: { create?: boolean } = {}): void {
  if (options.create === true) {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (error) {
      const known = classify(error, `${flag} ${dir}`);
      throw known ?? new InputError(`${flag} ${dir}: cannot create the folder: ${(error as Error).message}`);
    }
  }
  let isDirectory = false;
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch (error) {
    throw new InputError(`${flag} ${dir}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such folder' : (error as Error).message}`);
  }
  if (!isDirectory) throw new InputError(`${flag} ${dir}: not a folder`);
  // Hidden and named after this process: the coordinator lists only `*.segment.sqlite` files not starting with '.'.
  const probe = join(dir, `.sparsetrace-probe-${hostname()}-${process.pid}`);
  try {
    const fd = openSync(probe, 'w');
    try {
      writeSync(fd, 'probe\n');
    } finally {
      closeSync(fd);
    }
    rmSync(probe, { force: true });
  } catch (error) {
    rmSync(probe, { force: true });
    const what = `${flag} ${dir}`;
    const known = classify(error, what);
    const reason = known !== undefined ? known.message.slice(what.length + 2) : (error as Error).message;
    throw new EnvironmentError(`${flag} ${dir}: cannot write there: ${reason}; ${purpose}: make it writable for this user, or give another folder`);
  }
}
