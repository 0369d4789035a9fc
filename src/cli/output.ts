import { closeSync, fstatSync, openSync, realpathSync, rmSync, statSync, writeSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { BrokenPipeError, classify, EnvironmentError, InputError } from '../errors.js';
import { renameDurably } from '../files.js';
import { redactSecrets } from '../redact.js';

/**
 * Data goes to stdout, logs and progress to stderr, both written synchronously
 * with every byte checked: a full disk behind `> FILE` is an error, a reader that
 * went away (`| head`) ends the command quietly (BrokenPipeError, exit 0).
 */

const pause = new Int32Array(new SharedArrayBuffer(4));

/** The first and the longest wait (ms) for a full non-blocking pipe to drain. */
const FIRST_WAIT_MS = 0.05;
const LONGEST_WAIT_MS = 5;

/**
 * Writes all of `data` to `fd`: partial writes continue, EAGAIN (a non-blocking pipe) waits; other errors throw.
 * The wait starts short and doubles while the pipe stays full: a pipe holds 64 KB, so a fixed 5 ms wait
 * capped a fast reader at about 13 MB/s (`report --by window` at 10⁵ runs, 88 MB, slept seconds).
 */
export function writeAll(fd: number, data: string | Uint8Array): void {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  let offset = 0;
  let wait = FIRST_WAIT_MS;
  while (offset < bytes.length) {
    try {
      offset += writeSync(fd, bytes, offset, bytes.length - offset);
      wait = FIRST_WAIT_MS;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
      Atomics.wait(pause, 0, 0, wait);
      wait = Math.min(2 * wait, LONGEST_WAIT_MS);
    }
  }
}

/**
 * Opens process.stdout and process.stderr with an error listener each (what
 * goes through them, e.g. yargs' help, must not crash the command on a closed
 * pipe; our own writes go through writeAll), and puts a pipe or socket in
 * blocking mode: Node's stream makes it non-blocking, and writeAll then polls a
 * full pipe where a blocking write waits in the kernel until the reader takes
 * the bytes (88 MB of `report --by window` into a pipe a Node process reads:
 * about 0.45 s polling, 0.3 s blocking). Node opened the descriptor for this
 * process alone and restores its mode at exit, so no other process sees it.
 */
export function openStdioStreams(): void {
  for (const [fd, stream] of [[1, process.stdout], [2, process.stderr]] as const) {
    stream.on('error', () => {});
    let kind: Stats | undefined;
    try {
      kind = fstatSync(fd);
    } catch {
      continue; // closed: the stream's first write fails, as before
    }
    // (`_handle.setBlocking`: libuv's uv_stream_set_blocking, on a pipe's or a socket's stream.)
    if (kind.isFIFO() || kind.isSocket()) (stream as unknown as { _handle?: { setBlocking?: (on: boolean) => unknown } })._handle?.setBlocking?.(true);
  }
}

const brokenListeners = new Set<() => void>();
let stderrBroken = false;

/** Calls `listener` once stdout or stderr turns out to be a broken pipe; returns the unsubscribe. */
export function onBrokenPipe(listener: () => void): () => void {
  brokenListeners.add(listener);
  return () => brokenListeners.delete(listener);
}

function pipeBroke(): void {
  for (const listener of [...brokenListeners]) listener();
}

let debugFlag = false;

/** --debug, for this command line (runCommandLine runs several in one process: each says its own). */
export function setDebug(on: boolean): void {
  debugFlag = on;
}

/** --debug or SPARSETRACE_DEBUG=1 (read when asked, not when loaded): stack traces with errors, for bug reports. */
export function debugEnabled(): boolean {
  return debugFlag || process.env.SPARSETRACE_DEBUG === '1';
}

let commandLine: readonly string[] = process.argv.slice(2);

/** The arguments of the command line being run, for the records that name it (the writer lock, a page's provenance): main() sets them. */
export function commandArgs(): readonly string[] {
  return commandLine;
}

/** main(): in this process (runCommandLine) they are not process.argv. */
export function setCommandArgs(args: readonly string[]): void {
  commandLine = [...args];
}

let logSink: ((line: string) => void) | undefined;

/** Where a command's stdout and stderr go when it runs in this process (program.ts runCommandLine) rather than to fds 1 and 2. */
export interface CommandIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

let redirected: CommandIo | undefined;

/** Sends out() and log() to `io` (undefined: back to fds 1 and 2). */
export function redirectOutput(io: CommandIo | undefined): void {
  redirected = io;
}

/** While a progress bar is drawn, messages go through it (its `log()`), so it does not overwrite them. */
export function routeLog(sink: ((line: string) => void) | undefined): void {
  logSink = sink;
}

/** A line on stderr. Losing stderr (a closed pipe, a full disk) never stops a command. */
export function log(text: string): void {
  if (stderrBroken) return;
  // Every message passes here, library errors included: none may show a password.
  const line = redactSecrets(text);
  if (logSink !== undefined) {
    logSink(line);
    return;
  }
  if (redirected !== undefined) {
    redirected.err(`${line}\n`);
    return;
  }
  try {
    writeAll(2, `${line}\n`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EPIPE') {
      stderrBroken = true;
      pipeBroke();
    }
  }
}

/** Data on stdout (text, or UTF-8 bytes of whole lines); throws BrokenPipeError when the reader went away, EnvironmentError on a full disk. */
export function out(text: string | Uint8Array): void {
  if (redirected !== undefined) {
    redirected.out(typeof text === 'string' ? text : Buffer.from(text.buffer, text.byteOffset, text.byteLength).toString('utf8'));
    return;
  }
  try {
    writeAll(1, text);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EPIPE') {
      pipeBroke();
      throw new BrokenPipeError();
    }
    const known = classify(error, 'stdout');
    throw known ? new EnvironmentError(`${known.message}; the output is incomplete`) : error;
  }
}

/** The path a file has or would have, with symbolic links of existing parts resolved. */
function canonical(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    try {
      return join(realpathSync(dirname(resolve(path))), basename(path));
    } catch {
      return resolve(path);
    }
  }
}

/**
 * An output file written atomically: bytes go to a temporary file beside the
 * target, every write checked; `commit` puts it in place durably (renameDurably); `abandon` removes it. A failed command never leaves a
 * truncated file under the name asked for, nor overwrites `protect`ed files.
 */
export class AtomicFile {
  readonly temporary: string;
  private fd: number | undefined;

  /** `flag` names the option in messages (e.g. "--out"); `protect` are files the output must not replace (the database). */
  constructor(
    readonly path: string,
    readonly flag: string,
    protect: readonly string[] = [],
  ) {
    if (path.trim() === '') throw new InputError(`${flag}: the path is empty; give a file name (or leave ${flag} out to write to stdout)`);
    const target = canonical(path);
    for (const file of protect) {
      if ([file, `${file}-wal`, `${file}-shm`, `${file}-journal`].some((name) => canonical(name) === target)) {
        throw new InputError(`${flag} ${path}: that is the database (or one of its files); give another file name`);
      }
    }
    let stats;
    try {
      stats = statSync(path);
    } catch {
      stats = undefined;
    }
    if (stats !== undefined && !stats.isFile()) {
      throw new InputError(`${flag} ${path}: ${stats.isDirectory() ? 'is a folder' : 'not a regular file'}; give a file name (or leave ${flag} out to write to stdout)`);
    }
    this.temporary = join(dirname(path), `.${basename(path)}.partial-${process.pid}`);
    try {
      this.fd = openSync(this.temporary, 'wx');
    } catch (error) {
      const known = classify(error, `${flag} ${path}`);
      const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? `${flag} ${path}: cannot write: no such folder ${dirname(path)}` : undefined;
      throw reason ? new InputError(reason) : known ?? new InputError(`${flag} ${path}: cannot write: ${(error as Error).message}`);
    }
  }

  write(text: string | Uint8Array): void {
    try {
      writeAll(this.fd as number, text);
    } catch (error) {
      this.abandon();
      throw this.failure(error);
    }
  }

  /** Makes the file durable and puts it in place. */
  commit(): void {
    const fd = this.fd;
    this.fd = undefined;
    try {
      renameDurably(this.temporary, this.path, fd);
    } catch (error) {
      this.abandon();
      throw this.failure(error);
    }
  }

  /** Removes the temporary file; safe to call more than once. */
  abandon(): void {
    if (this.fd !== undefined) {
      try {
        closeSync(this.fd);
      } catch {
        // The close error changes nothing: the file goes.
      }
      this.fd = undefined;
    }
    rmSync(this.temporary, { force: true });
  }

  private failure(error: unknown): Error {
    const known = classify(error, `${this.flag} ${this.path}`);
    const message = known?.message ?? `${this.flag} ${this.path}: cannot write: ${(error as Error).message}`;
    return new EnvironmentError(`${message}; nothing was written to ${this.path}`);
  }
}

/** `text` as one shell word, quoted only when it needs to be, for commands a message tells the user to run. */
export function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * A command's whole output: to `outPath` (--out) atomically, complete or not at
 * all and never over the database's files (`protect`), with a line saying where
 * it went; or to stdout when there is no --out.
 */
export function writeOutput(text: string, outPath: string | undefined, protect: readonly string[]): void {
  writeOutputChunks([text], outPath, protect);
}

/**
 * How much of a report made in parts is gathered before one write: a part per
 * group of 10⁵ would be a system call each. 64 K, not 1 M: parts held until
 * their write outlive young garbage collections and are copied and promoted
 * (at 10⁵ groups, --by window, 1 M cost about half a second of CPU and 9 MB more).
 */
const OUTPUT_BATCH_CHARS = 1 << 16;

/**
 * The parts joined into pieces of about OUTPUT_BATCH_CHARS characters (a larger part alone), in order; a part
 * of bytes (a report's lines written as UTF-8, already about that size) goes out alone, after the text before it.
 */
export function* batched(chunks: Iterable<string | Uint8Array>, size = OUTPUT_BATCH_CHARS): Generator<string | Uint8Array> {
  let parts: string[] = [];
  let length = 0;
  for (const chunk of chunks) {
    if (typeof chunk !== 'string') {
      if (parts.length > 0) yield parts.join('');
      parts = [];
      length = 0;
      yield chunk;
      continue;
    }
    parts.push(chunk);
    length += chunk.length;
    if (length >= size) {
      yield parts.join('');
      parts = [];
      length = 0;
    }
  }
  if (parts.length > 0) yield parts.join('');
}

/** writeOutput for output made in parts (a report written group by group): the parts go out as they come, about 64 KB at a time. */
export function writeOutputChunks(chunks: Iterable<string | Uint8Array>, outPath: string | undefined, protect: readonly string[]): void {
  if (outPath === undefined) {
    for (const piece of batched(chunks)) out(piece);
    return;
  }
  const file = new AtomicFile(outPath, '--out', protect);
  try {
    for (const piece of batched(chunks)) file.write(piece);
    file.commit();
  } finally {
    file.abandon();
  }
  log(`wrote ${outPath}`);
}
