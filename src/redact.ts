/**
 * Secrets never reach stderr or a database: a Redis password travels in a URL
 * (`redis://:SECRET@host`), maybe in a flag, and both the log lines and the
 * writer lock's `command` (which `unlock` and a refused writer print) would
 * otherwise show it to whoever reads them. Light on purpose: every command
 * loads it (output.ts), and the store's lock uses it too.
 */

const MASK = '***';

/** Secrets read at run time (a password file, a URL's password), masked wherever they appear. */
const known = new Set<string>();

/**
 * Masks `secret` in every later line. Very short values are not registered:
 * masking every "ab" of the output would garble it, and such a password
 * protects nothing anyway.
 */
export function registerSecret(secret: string): void {
  if (secret.length >= 4) known.add(secret);
}

/** `scheme://user:password@` and `scheme://token@`: the user name stays, anything that may be a secret goes. */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/@:]*)(:[^\s/@]*)?@/gi;

/** A flag whose name says it carries a secret (`--password X`, `--redis-token=X`), but not one naming a file that holds it. */
const SECRET_FLAG = /(--?[\w-]*(?:password|passwd|secret|token)(?<!-file))(=|\s+)(?!-)(\S+)/gi;

/** `text` with every credential it shows replaced by ***. */
export function redactSecrets(text: string): string {
  let redacted = text
    .replace(URL_CREDENTIALS, (_, scheme: string, user: string, password: string | undefined) =>
      password === undefined ? `${scheme}${user === '' ? '' : MASK}@` : `${scheme}${user}:${MASK}@`,
    )
    .replace(SECRET_FLAG, (_, flag: string, separator: string) => `${flag}${separator}${MASK}`);
  for (const secret of known) redacted = redacted.split(secret).join(MASK);
  return redacted;
}

/** A command line to record or show (the writer lock's `command`): its arguments joined, secrets masked. */
export function redactCommandLine(args: readonly string[]): string {
  return redactSecrets(args.join(' '));
}
