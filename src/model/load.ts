import { readFileSync, openSync, readSync, closeSync, fstatSync } from 'node:fs';
import { createHash } from 'node:crypto';
import type { Model } from '../engine/index.js';
import { InputError } from '../errors.js';
import { checkRegularFile } from '../files.js';
import { parseModel } from './format.js';

/** A model read from disk, with the content hash that identifies it in the store. */
export interface LoadedModel {
  readonly path: string;
  readonly sha256: string;
  readonly model: Model;
}

/** A window of a data file: `bytes` are the file's bytes [offset, offset + bytes.length). */
export interface DataWindow {
  readonly path: string;
  /** The window's offset (its burn-in bytes, if any, lie before it). */
  readonly offset: number;
  /** The bytes the network reads: the burn-in bytes, then the window's. */
  readonly bytes: Uint8Array;
  /** SHA-256 of `bytes` (with a burn-in, of the burn-in bytes and the window's together). */
  readonly sha256: string;
  /** Bytes of `bytes` before the window: 0 for a cold window. */
  readonly burnIn: number;
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function describeReadError(kind: 'model' | 'data', path: string, error: unknown): InputError {
  const code = (error as NodeJS.ErrnoException).code;
  const reason =
    code === 'ENOENT'
      ? 'no such file'
      : code === 'EISDIR'
        ? 'is a directory, not a file'
        : code === 'EACCES'
          ? 'permission denied'
          : (error as Error).message;
  // Only a missing file can be a shipped input not fetched yet.
  const hint = code === 'ENOENT' ? ' (run `sparsetrace fetch-inputs` to get the shipped inputs)' : '';
  return new InputError(`${kind} ${path}: cannot read: ${reason}${hint}`);
}

/** Refuses anything but a regular file (see files.ts); a path that cannot be examined is described as unreadable. */
function checkInputFile(kind: 'model' | 'data', path: string): void {
  checkRegularFile(path, kind, (error) => describeReadError(kind, path, error));
}

export function loadModel(path: string): LoadedModel {
  checkInputFile('model', path);
  let contents: Buffer;
  try {
    contents = readFileSync(path);
  } catch (error) {
    throw describeReadError('model', path, error);
  }
  return { path, sha256: sha256(contents), model: parseModel(contents, path) };
}

/** Size in bytes of a data file, with the same clear errors as reading it. */
export function dataFileSize(path: string): number {
  checkInputFile('data', path);
  try {
    const fd = openSync(path, 'r');
    try {
      return fstatSync(fd).size;
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    throw describeReadError('data', path, error);
  }
}

/**
 * Reads `length` bytes at `offset` (a shorter file gives a shorter window),
 * after the `burnIn` bytes before it (at most `offset`). A window needs at least
 * two bytes: one prediction is x_0 → x_1.
 */
export function loadDataWindow(path: string, offset: number, length: number, burnIn = 0): DataWindow {
  checkBurnIn(path, offset, burnIn);
  const window = readBytes(path, offset - burnIn, length + burnIn);
  checkWindowLength(path, offset, Math.max(0, window.bytes.length - burnIn), window.size);
  return { path, offset, bytes: window.bytes, sha256: sha256(window.bytes), burnIn };
}

function checkBurnIn(path: string, offset: number, burnIn: number): void {
  if (!(Number.isSafeInteger(burnIn) && burnIn >= 0 && burnIn <= offset)) {
    throw new InputError(`data ${path}: a burn-in of ${burnIn} bytes before the window at offset ${offset} would start before the file's start`);
  }
}

function checkWindowLength(path: string, offset: number, windowBytes: number, size: number): void {
  if (windowBytes < 2) {
    const what = windowBytes === 0 ? 'empty' : 'one byte long';
    const where = offset >= size ? ` (the file has ${size} bytes)` : '';
    throw new InputError(
      `data ${path}: the window at offset ${offset} is ${what}${where}; a window needs at least 2 bytes (one prediction)`,
    );
  }
}

/** Bytes a window is read in by scanDataWindow. */
const SCAN_CHUNK_BYTES = 1 << 20;

/**
 * What loadDataWindow says of a window (its SHA-256, and how many bytes the
 * network reads: burn-in and window), with the same checks and messages, read
 * in pieces of 1 MiB: memory does not grow with the window's length.
 */
export function scanDataWindow(path: string, offset: number, length: number, burnIn = 0): { sha256: string; bytes: number } {
  checkBurnIn(path, offset, burnIn);
  checkInputFile('data', path);
  const hash = createHash('sha256');
  let read = 0;
  let size: number;
  try {
    const fd = openSync(path, 'r');
    try {
      size = fstatSync(fd).size;
      const start = offset - burnIn;
      const available = Math.max(0, Math.min(length + burnIn, size - start));
      const buffer = Buffer.alloc(Math.min(available, SCAN_CHUNK_BYTES));
      while (read < available) {
        const n = readSync(fd, buffer, 0, Math.min(buffer.length, available - read), start + read);
        if (n === 0) break;
        hash.update(buffer.subarray(0, n));
        read += n;
      }
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    throw describeReadError('data', path, error);
  }
  checkWindowLength(path, offset, Math.max(0, read - burnIn), size);
  return { sha256: hash.digest('hex'), bytes: read };
}

/** Exactly `count` bytes of a data file from byte `start` (a piece of a window that scanDataWindow checked); InputError if the file is shorter now. */
export function readDataBytes(path: string, start: number, count: number): Uint8Array {
  const { bytes } = readBytes(path, start, count);
  if (bytes.length !== count) throw new InputError(`data ${path}: ${count} bytes at offset ${start} cannot be read any more (the file has shrunk since the job was planned)`);
  return bytes;
}

/** Up to `length` bytes at `offset`, and the file's size. */
function readBytes(path: string, offset: number, length: number): { bytes: Uint8Array; size: number } {
  checkInputFile('data', path);
  let bytes: Uint8Array;
  let size: number;
  try {
    const fd = openSync(path, 'r');
    try {
      size = fstatSync(fd).size;
      const available = Math.max(0, Math.min(length, size - offset));
      const buffer = Buffer.alloc(available);
      let read = 0;
      while (read < available) {
        const n = readSync(fd, buffer, read, available - read, offset + read);
        if (n === 0) break;
        read += n;
      }
      bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, read);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    throw describeReadError('data', path, error);
  }
  return { bytes, size };
}
