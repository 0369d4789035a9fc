import { isAbsolute, join, normalize, relative, resolve, sep } from 'node:path';

/**
 * Anything read from the queue is someone else's input: whoever can write to
 * Redis can write a batch. A batch's id becomes file names (the work database,
 * the segment), so it must be a plain name: a strict pattern, then a check
 * that the path built from it stays in its folder (a second lock on the door,
 * in case the pattern is ever loosened).
 */
export const SAFE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** A value from the queue shown in a message: quoted, one line, at most 80 characters (it may be anything). */
export function printable(value: unknown): string {
  const text = JSON.stringify(typeof value === 'string' ? value : String(value)) ?? '""';
  return text.length > 80 ? `${text.slice(0, 77)}…"` : text;
}

/** The problem with `value` as a file name, or undefined when it is a safe one. */
export function nameProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return `is ${value === undefined ? 'missing' : `a ${typeof value}, not a string`}`;
  if (!SAFE_NAME.test(value)) return `${printable(value)} is not a plain name (1–64 of A–Z, a–z, 0–9, '_', '-')`;
  return undefined;
}

/** `value` when it is a safe name; throws `fail(problem)` otherwise. */
export function safeName(value: unknown, fail: (problem: string) => Error): string {
  const problem = nameProblem(value);
  if (problem !== undefined) throw fail(problem);
  return value as string;
}

/** `dir`/`name`, checked to be a file directly inside `dir` (never `..`, never elsewhere). */
export function fileInside(dir: string, name: string): string {
  const path = join(dir, name);
  const rel = relative(resolve(dir), resolve(path));
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel) || rel.includes(sep)) {
    throw new Error(`${printable(name)} would be a file outside ${dir}; refused`);
  }
  return path;
}

/**
 * The problem with `value` as the path of an input file named by a batch (a
 * model, a data file), or undefined: it must be absolute and plain (no '..',
 * no '.', no doubled '/', no control characters), as the coordinator's job
 * expansion writes them. Its content is then checked against its sha256.
 */
export function inputPathProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return `is ${value === undefined ? 'missing' : `a ${typeof value}, not a string`}`;
  if (value.length === 0 || value.length > 4096) return `${printable(value)} is not a usable path (empty or longer than 4096)`;
  if (/[\u0000-\u001f\u007f]/.test(value)) return `${printable(value)} contains control characters`;
  if (!isAbsolute(value)) return `${printable(value)} is not an absolute path`;
  if (normalize(value) !== value || value.split('/').includes('..')) return `${printable(value)} is not a plain path (it has '..', '.' or '//')`;
  return undefined;
}
