import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.js';

/** The shipped inputs and their pinned SHA-256 sums (shared/inputs/SHA256SUMS). */
export const PINNED_INPUTS: readonly { readonly name: string; readonly sha256: string }[] = [
  { name: 'sat_model.bin', sha256: '239036a0c2319f6835f56ee54bbc3ae8d19a10ab1224c26c77a3f66e59d2b68b' },
  { name: 'enwik_1024.txt', sha256: 'ef3e698d40b8b36d6d1776feccc25bab3d01de872a4fd8e56f5b929631568496' },
];

/** Where the default job expects the inputs (relative to the working directory). */
export const DEFAULT_INPUTS_DIR = 'inputs';

/** Both files are in the public repository at this commit (shared/inputs/SOURCES.md). */
export const DEFAULT_BASE_URL = 'https://raw.githubusercontent.com/inimino/hutter/86fbef8327207dd3e510c05118ba5aedd89b32e0/';

export interface FetchOptions {
  /** Copy from this folder instead of downloading. */
  readonly from?: string;
  readonly destination: string;
  readonly log: (line: string) => void;
  readonly baseUrl?: string;
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

function readIfPresent(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

async function download(url: string, name: string): Promise<Buffer> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(60_000) });
    if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`);
    return Buffer.from(await response.arrayBuffer());
  } catch (error) {
    const cause = (error as { cause?: { message?: string } }).cause?.message;
    throw new InputError(
      `${name}: download from ${url} failed: ${(error as Error).message}${cause ? ` (${cause})` : ''}; ` +
        `without network access, copy the files from a folder that has them: sparsetrace fetch-inputs --from DIR (e.g. ../shared/inputs)`,
    );
  }
}

/**
 * Puts the pinned inputs into `destination`, verifying each SHA-256. A file
 * already there with the right sum is kept; anything else is replaced. Files are
 * written to a temporary name and renamed once verified, so an interrupted or
 * failed fetch never leaves a wrong file under the real name.
 */
export async function fetchInputs(options: FetchOptions): Promise<string[]> {
  const { from, destination, log } = options;
  if (from !== undefined) {
    let isFolder = false;
    try {
      isFolder = statSync(from).isDirectory();
    } catch {
      throw new InputError(`--from ${from}: no such folder`);
    }
    if (!isFolder) throw new InputError(`--from ${from}: not a folder (give the folder that holds ${PINNED_INPUTS.map((input) => input.name).join(' and ')})`);
  }
  mkdirSync(destination, { recursive: true });
  const written: string[] = [];
  for (const { name, sha256: expected } of PINNED_INPUTS) {
    const target = join(destination, name);
    const existing = readIfPresent(target);
    if (existing !== undefined && sha256(existing) === expected) {
      log(`${target}: already there, sha256 verified`);
      written.push(target);
      continue;
    }
    let contents: Buffer;
    let origin: string;
    if (from !== undefined) {
      origin = join(from, name);
      const copied = readIfPresent(origin);
      if (copied === undefined) throw new InputError(`${name}: not found at ${origin}; that folder must hold ${name}`);
      contents = copied;
    } else {
      origin = `${options.baseUrl ?? DEFAULT_BASE_URL}${name}`;
      contents = await download(origin, name);
    }
    const actual = sha256(contents);
    if (actual !== expected) {
      throw new InputError(`${name} from ${origin}: sha256 ${actual} does not match the pinned ${expected}; this is not the published file`);
    }
    const temporary = `${target}.partial-${process.pid}`;
    try {
      writeFileSync(temporary, contents);
      renameSync(temporary, target);
    } finally {
      rmSync(temporary, { force: true });
    }
    log(`${target}: ${existing !== undefined ? 'replaced a copy with the wrong sha256; ' : ''}copied from ${origin}, sha256 verified`);
    written.push(target);
  }
  return written;
}
