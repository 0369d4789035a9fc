import { readFileSync } from 'node:fs';
import { classify, InputError } from '../errors.js';
import { redactSecrets, registerSecret } from '../redact.js';

/**
 * Where the queue lives: a Redis server, from `--queue redis://[[user]:password@]host:port[/db]`
 * or the environment's REDIS_URL, with the password optionally in a file
 * (`--queue-password-file`), so that no secret needs to be on a command line
 * (which `ps` shows to every user of the machine).
 */
export interface QueueAddress {
  /** The URL for messages: its password masked. The real one is never kept as text. */
  readonly display: string;
  /** Where the URL came from, for messages: `--queue` or `REDIS_URL`. */
  readonly source: string;
  readonly host: string;
  readonly port: number;
  readonly db: number;
  readonly password?: string;
  /** Where the password came from, for messages (the URL, or the password file). */
  readonly passwordSource?: string;
  readonly username?: string;
}

/** The environment variable that may hold the queue's URL (password included) instead of `--queue`. */
export const QUEUE_URL_VARIABLE = 'REDIS_URL';

export function parseQueueUrl(text: string, source = '--queue'): QueueAddress {
  // Registered before anything can fail: a message quoting the URL must not show its password.
  const shown = redactSecrets(text);
  const bad = (problem: string): never => {
    throw new InputError(`${source} ${shown}: ${problem} (expected redis://HOST:PORT, e.g. redis://127.0.0.1:6380)`);
  };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return bad('not a URL');
  }
  if (url.password !== '') {
    registerSecret(url.password);
    registerSecret(decodeURIComponent(url.password));
  }
  if (url.protocol !== 'redis:') bad(`scheme ${url.protocol.replace(/:$/, '')} is not redis`);
  if (url.hostname === '') bad('no host');
  const port = url.port === '' ? 6379 : Number(url.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) bad(`port ${url.port} is not a port number`);
  const path = url.pathname.replace(/^\//, '');
  const db = path === '' ? 0 : Number(path);
  if (!/^\d*$/.test(path) || !Number.isSafeInteger(db)) bad(`database /${path} is not a number`);
  if (url.search !== '' || url.hash !== '') bad('no query or fragment expected');
  return {
    display: shown,
    source,
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port,
    db,
    ...(url.password !== '' ? { password: decodeURIComponent(url.password), passwordSource: `the ${source} URL` } : {}),
    ...(url.username !== '' ? { username: decodeURIComponent(url.username) } : {}),
  };
}

/** The password in `path`: the file's content without its final line break. */
export function readPasswordFile(path: string, flag: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InputError(`${flag} ${path}: no such file; give the file that holds the Redis password`);
    if (code === 'EISDIR') throw new InputError(`${flag} ${path}: is a folder; give the file that holds the Redis password`);
    throw classify(error, `${flag} ${path}`) ?? error;
  }
  const password = text.replace(/\r?\n$/, '');
  if (password === '') throw new InputError(`${flag} ${path}: the file is empty; put the Redis password in it (one line)`);
  if (/[\r\n]/.test(password)) throw new InputError(`${flag} ${path}: more than one line; put only the Redis password in it`);
  registerSecret(password);
  return password;
}

/**
 * The queue's address from `--queue` (else REDIS_URL) and `--queue-password-file`.
 * A password given twice (in the URL and in a file) is refused rather than one
 * of them silently ignored.
 */
export function resolveQueueAddress(
  args: { readonly queue?: string; readonly queuePasswordFile?: string },
  env: NodeJS.ProcessEnv = process.env,
): QueueAddress {
  const fromEnv = env[QUEUE_URL_VARIABLE];
  const given = args.queue ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : undefined);
  if (given === undefined) {
    throw new InputError(`no queue: give --queue redis://HOST:PORT, or set ${QUEUE_URL_VARIABLE} (which keeps a password off the command line)`);
  }
  const address = parseQueueUrl(given, args.queue !== undefined ? '--queue' : QUEUE_URL_VARIABLE);
  if (args.queuePasswordFile === undefined) return address;
  const flag = '--queue-password-file';
  const password = readPasswordFile(args.queuePasswordFile, flag);
  if (address.password !== undefined) {
    throw new InputError(`${flag} ${args.queuePasswordFile}: ${address.source} ${address.display} has a password too; give it in one place only`);
  }
  return { ...address, password, passwordSource: `${flag} ${args.queuePasswordFile}` };
}
