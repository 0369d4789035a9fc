/** File checks and durable writes that every room shares (the CLI's outputs, the queue's segments, the inputs). */
import { closeSync, fsyncSync, openSync, renameSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { InputError } from './errors.js';

/**
 * Refuses anything but a regular file before it is opened: opening a FIFO waits
 * for a writer, forever if there is none. `what` names the file in the message
 * ("model", "job file"). A path that cannot be examined (missing, no
 * permission) is `unreadable`'s to describe; without it, the reader that opens
 * the file next says what is wrong.
 */
export function checkRegularFile(path: string, what: string, unreadable?: (error: unknown) => Error): void {
  let stats;
  try {
    stats = statSync(path);
  } catch (error) {
    if (unreadable !== undefined) throw unreadable(error);
    return;
  }
  if (stats.isDirectory()) throw new InputError(`${what} ${path}: cannot read: is a directory, not a file`);
  if (!stats.isFile()) throw new InputError(`${what} ${path}: not a regular file (a FIFO or device); give a file`);
}

/**
 * Puts a finished temporary file in place atomically and durably: its bytes are
 * flushed to the disk (fsync), then it is renamed over `target`, then the
 * folder is flushed so that the rename survives a crash. `fd`: the file's
 * descriptor if it is open (closed here), else it is opened to be flushed.
 * Readers of `target` see the old file or the whole new one, never a part.
 */
export function renameDurably(temporary: string, target: string, fd?: number): void {
  const handle = fd ?? openSync(temporary, 'r');
  try {
    fsyncSync(handle);
  } finally {
    closeSync(handle);
  }
  renameSync(temporary, target);
  try {
    const folder = openSync(dirname(target), 'r');
    try {
      fsyncSync(folder);
    } finally {
      closeSync(folder);
    }
  } catch {
    // Some file systems cannot fsync a folder; the rename is done.
  }
}
