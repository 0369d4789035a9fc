import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EnvironmentError, InputError } from '../errors.js';
import { sha256 } from '../model/load.js';

/** The shipped inputs and their pinned SHA-256 sums (shared/inputs/SHA256SUMS). */
export const PINNED_INPUTS: readonly { readonly name: string; readonly sha256: string }[] = [
  { name: 'sat_model.bin', sha256: '239036a0c2319f6835f56ee54bbc3ae8d19a10ab1224c26c77a3f66e59d2b68b' },
  { name: 'enwik_1024.txt', sha256: 'ef3e698d40b8b36d6d1776feccc25bab3d01de872a4fd8e56f5b929631568496' },
];

/** Both files are in the public repository at this commit (shared/inputs/SOURCES.md). */
export const DEFAULT_BASE_URL = 'https://raw.githubusercontent.com/inimino/hutter/86fbef8327207dd3e510c05118ba5aedd89b32e0/';

const FROM_HINT = 'run sparsetrace fetch-inputs --from DIR with a folder that holds the published files (e.g. ../shared/inputs)';

export interface FetchOptions {
  /** Copy from this folder instead of downloading. */
  readonly from?: string;
  readonly destination: string;
  readonly log: (line: string) => void;
  /** Where to download from (ends with '/'); only tests change it. */
  readonly baseUrl?: string;
}

/** The file's bytes, or undefined when there is no such file; other read failures are errors. */
function readIfPresent(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    const reason = code === 'EISDIR' ? 'is a directory, not a file' : (error as Error).message;
    throw new InputError(`${path}: cannot read: ${reason}`);
  }
}

function checkFolder(from: string): void {
  let isFolder: boolean;
  try {
    isFolder = statSync(from).isDirectory();
  } catch {
    throw new InputError(`--from ${from}: no such folder; ${FROM_HINT}`);
  }
  if (!isFolder) {
    const names = PINNED_INPUTS.map((input) => input.name).join(' and ');
    throw new InputError(`--from ${from}: not a folder; give the folder that holds ${names}`);
  }
}

async function download(url: string, name: string): Promise<Buffer> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(60_000) });
    if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`);
    return Buffer.from(await response.arrayBuffer());
  } catch (error) {
    // undici reports "fetch failed" and puts the useful part (ECONNREFUSED, ENOTFOUND…) in `cause`.
    const cause = (error as { cause?: { message?: string } }).cause?.message;
    // The network's doing (no route, DNS, an HTTP error), not the user's: exit 1.
    throw new EnvironmentError(
      `${name}: download from ${url} failed: ${(error as Error).message}${cause ? ` (${cause})` : ''}; ` +
        `without network access, copy the files instead: ${FROM_HINT}`,
    );
  }
}

function mismatch(name: string, origin: string, expected: string, actual: string): InputError {
  return new InputError(
    `${name} from ${origin}: sha256 is ${actual}, expected ${expected}; this is not the published file (see shared/inputs/SOURCES.md)`,
  );
}

/**
 * Puts the pinned inputs into `destination`, verifying each SHA-256, and returns
 * their paths. A file already there with the right sum is kept; a wrong copy is
 * replaced. Files are written under a temporary name in the same folder and
 * renamed only once the bytes on disk verify, so a failed or interrupted fetch
 * never leaves a wrong file under the real name.
 */
export async function fetchInputs(options: FetchOptions): Promise<string[]> {
  const { from, destination, log } = options;
  if (from !== undefined) checkFolder(from);
  mkdirSync(destination, { recursive: true });
  const paths: string[] = [];
  for (const { name, sha256: expected } of PINNED_INPUTS) {
    const target = join(destination, name);
    paths.push(target);
    const existing = readIfPresent(target);
    if (existing !== undefined && sha256(existing) === expected) {
      log(`${target}: already there, sha256 verified`);
      continue;
    }

    let contents: Buffer;
    let origin: string;
    if (from !== undefined) {
      origin = join(from, name);
      const copied = readIfPresent(origin);
      if (copied === undefined) {
        throw new InputError(`${name}: not found at ${origin}; put the published ${name} there, or run sparsetrace fetch-inputs without --from to download it`);
      }
      contents = copied;
    } else {
      origin = `${options.baseUrl ?? DEFAULT_BASE_URL}${name}`;
      contents = await download(origin, name);
    }
    const actual = sha256(contents);
    if (actual !== expected) throw mismatch(name, origin, expected, actual);

    const temporary = `${target}.partial-${process.pid}`;
    try {
      writeFileSync(temporary, contents, { flush: true });
      const written = sha256(readFileSync(temporary));
      if (written !== expected) throw mismatch(name, temporary, expected, written);
      renameSync(temporary, target);
    } finally {
      rmSync(temporary, { force: true });
    }
    const how = from !== undefined ? 'copied' : 'downloaded';
    log(`${target}: ${existing !== undefined ? 'replaced a copy with the wrong sha256; ' : ''}${how} from ${origin}, sha256 verified`);
  }
  return paths;
}
