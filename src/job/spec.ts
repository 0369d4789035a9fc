import { resolve as fromWorkingDirectory } from 'node:path';
import { isRuleName, ruleChoices, type RuleName } from '../engine/computation.js';
import { InputError } from '../errors.js';

/**
 * A job file (`jobs/*.json`), validated. Paths in a job file are relative to the
 * file's own folder; paths given as CLI flags are relative to the working directory.
 *
 * {
 *   "name": "q1-sparsity",
 *   "models": ["../inputs/sat_model.bin"],
 *   "data": [{ "path": "../inputs/enwik_1024.txt", "length": 1024 }],
 *   "dmax": [50],
 *   "tau": [1e-5, 1e-4, 1e-3, 0.01, 0.1, 1, 10],      or { "from": 1e-6, "to": 10, "perDecade": 10 }
 *   "depthCurves": true,                              optional; keep per-position depth curves (default false)
 *   "keep": "summaries",                              optional; drop a finished run's per-position rows (default "full")
 *   "rule": "gated-wx",                               optional; the attribution rule (src/engine/computation.ts; default "q1", the spec's)
 *   "db": "../results/other.sqlite"                   optional; default results/sparsetrace.sqlite
 * }
 *
 * A data source is cut into windows: `length` bytes from `offset` (default 0),
 * then every `stride` bytes, `count` windows (default 1) or `"all"` that fit.
 * `"burnIn": B` (default 0) warms each window: the network reads the B bytes
 * before it from h = 0, and the window's positions are traced from there (their
 * traces may reach back into those bytes); B may not exceed `offset`.
 */
/** What a finished run keeps: everything, or the summaries every figure of the report needs. */
export type Retention = 'full' | 'summaries';
export const RETENTIONS: readonly Retention[] = ['full', 'summaries'];

export interface DataSource {
  readonly path: string;
  readonly offset: number;
  readonly length: number;
  readonly stride: number;
  readonly count: number | 'all';
  /**
   * Bytes the network reads before each window, from h = 0 (a warm window); absent
   * means 0, the spec's cold start (left out then, so earlier jobs' specs are unchanged).
   */
  readonly burnIn?: number;
}

/** A data source's burn-in: 0 unless it asks for one. */
export function burnInOf(source: DataSource): number {
  return source.burnIn ?? 0;
}

export interface JobSpec {
  readonly name: string;
  readonly models: readonly string[];
  readonly data: readonly DataSource[];
  readonly dmax: readonly number[];
  readonly tau: readonly number[];
  /** Keep every position's depth mass at every offset (table depth_mass), not only shard sums. Default false. */
  readonly depthCurves?: boolean;
  /** 'summaries': a finished run keeps only what the report needs, not its per-position rows. Default 'full'. */
  readonly keep?: Retention;
  /** The attribution rule (src/engine/computation.ts), when the job names one; default "q1". */
  readonly rule?: RuleName;
  /** The database, when the job file names one. */
  readonly db?: string;
}

export const DEFAULT_TAUS: readonly number[] = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10];
export const DEFAULT_DMAX = 50;
export const DEFAULT_LENGTH = 1024;
/** Dmax beyond this would only allocate: a trace never reaches further back than its window. */
export const MAX_DMAX = 65_536;
/** At most this many thresholds per run, as a list or a grid. */
export const MAX_TAUS = 10_000;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

class FieldReader {
  constructor(private readonly source: string) {}

  fail(field: string, problem: string): never {
    throw new InputError(`${this.source}: ${field}: ${problem}`);
  }

  object(value: Json | undefined, field: string): { [key: string]: Json } {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) this.fail(field, `must be an object, got ${describe(value)}`);
    return value;
  }

  string(value: Json | undefined, field: string): string {
    if (typeof value !== 'string' || value.length === 0) this.fail(field, `must be a non-empty string, got ${describe(value)}`);
    return value;
  }

  integer(value: Json | undefined, field: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      this.fail(field, `must be an integer ≥ ${min}${max < Number.MAX_SAFE_INTEGER ? ` and ≤ ${max}` : ''}, got ${describe(value)}`);
    }
    return value;
  }

  /** A list; a single value stands for a list of one. */
  list(value: Json | undefined, field: string): Json[] {
    if (value === undefined) this.fail(field, 'is required');
    const items = Array.isArray(value) ? value : [value];
    if (items.length === 0) this.fail(field, 'must not be empty');
    return items;
  }

  noUnknownKeys(value: { [key: string]: Json }, field: string, known: readonly string[]): void {
    for (const key of Object.keys(value)) {
      if (!known.includes(key)) this.fail(field ? `${field}.${key}` : key, `unknown field (known: ${known.join(', ')})`);
    }
  }
}

/** A value as an error message shows it: JSON, cut short (a message is one line). */
function describe(value: Json | undefined): string {
  if (value === undefined) return 'nothing';
  const text = nestingDepth(value) > MAX_NESTING ? undefined : JSON.stringify(value);
  if (text === undefined) return Array.isArray(value) ? 'an array nested too deeply' : 'an object nested too deeply';
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Levels of arrays and objects a job file may nest (it needs 3: the file, "data", a source). */
const MAX_NESTING = 32;

/** How deeply `value` nests arrays and objects, counted without recursion (a hostile file nests 10^5 levels); stops past MAX_NESTING. */
function nestingDepth(value: unknown): number {
  let deepest = 0;
  const pending: [unknown, number][] = [[value, 1]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [item, depth] = next;
    if (item === null || typeof item !== 'object') continue;
    deepest = Math.max(deepest, depth);
    if (deepest > MAX_NESTING) return deepest;
    for (const child of Array.isArray(item) ? item : Object.values(item)) pending.push([child, depth + 1]);
  }
  return deepest;
}

/** Thresholds: a list, or a log-spaced grid {from, to, perDecade}. Each τ > 0, distinct as float32. */
export function parseTaus(value: Json | undefined, reader: FieldReader, field = 'tau'): number[] {
  let taus: number[];
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    reader.noUnknownKeys(value, field, ['from', 'to', 'perDecade']);
    const from = value.from;
    const to = value.to;
    if (typeof from !== 'number' || !(from > 0) || !Number.isFinite(from)) reader.fail(`${field}.from`, `must be a number > 0, got ${describe(from)}`);
    if (typeof to !== 'number' || !(to >= from) || !Number.isFinite(to)) reader.fail(`${field}.to`, `must be a number ≥ from, got ${describe(to)}`);
    const perDecade = reader.integer(value.perDecade, `${field}.perDecade`, 1);
    const { first, last } = logGridRange(from, to, perDecade);
    // Counted before it is made: perDecade 1e9 would be billions of values.
    if (last - first + 1 > MAX_TAUS) {
      reader.fail(field, `the grid from ${from} to ${to} at ${perDecade} per decade holds ${(last - first + 1).toExponential(2)} thresholds; at most ${MAX_TAUS}`);
    }
    taus = logGrid(from, to, perDecade);
    if (taus.length === 0) reader.fail(field, `the grid from ${from} to ${to} holds no threshold 10^(k/${perDecade}); widen it or raise perDecade`);
  } else {
    taus = reader.list(value, field).map((tau, k) => {
      if (typeof tau !== 'number' || !Number.isFinite(tau) || !(tau > 0)) reader.fail(`${field}[${k}]`, `must be a number > 0, got ${describe(tau)}`);
      return tau;
    });
  }
  if (taus.length > MAX_TAUS) reader.fail(field, `${taus.length} thresholds; at most ${MAX_TAUS}`);
  taus.forEach((tau, k) => {
    // The engine compares float32: a τ that rounds to 0 or ∞ there is not the threshold asked for.
    const single = Math.fround(tau);
    if (single === 0) reader.fail(`${field}[${k}]`, `${tau} rounds to 0 as a float32 (the smallest is about 1.4e-45)`);
    if (!Number.isFinite(single)) reader.fail(`${field}[${k}]`, `${tau} rounds to infinity as a float32 (the largest is about 3.4e38)`);
  });
  const seen = new Map<number, number>();
  taus.forEach((tau, k) => {
    const previous = seen.get(Math.fround(tau));
    if (previous !== undefined) reader.fail(`${field}[${k}]`, `${tau} is the same float32 threshold as ${field}[${previous}] (${taus[previous]})`);
    seen.set(Math.fround(tau), k);
  });
  return taus;
}

/** The exponents k of a grid's first and last thresholds 10^(k/perDecade). */
function logGridRange(from: number, to: number, perDecade: number): { first: number; last: number } {
  return { first: Math.ceil(Math.log10(from) * perDecade - 1e-9), last: Math.floor(Math.log10(to) * perDecade + 1e-9) };
}

/** 10^(k/perDecade) for every k with from ≤ τ ≤ to, as the shortest decimal (1e-5, not 1.0000000000000001e-5). */
export function logGrid(from: number, to: number, perDecade: number): number[] {
  const { first, last } = logGridRange(from, to, perDecade);
  const taus: number[] = [];
  for (let k = first; k <= last; k++) taus.push(Number((10 ** (k / perDecade)).toPrecision(12)));
  return taus;
}

/** Overrides from the command line; paths relative to the working directory (stored absolute). */
export interface JobOverrides {
  readonly model?: string;
  readonly data?: string;
  readonly offset?: number;
  readonly length?: number;
  readonly dmax?: number;
  readonly tau?: string;
  readonly depthCurves?: boolean;
  readonly keep?: Retention;
  readonly rule?: string;
  /** --burn-in: every data source's burn-in. */
  readonly burnIn?: number;
  readonly db?: string;
}

/**
 * Validates a parsed job file. `source` names the file in errors; `resolve`
 * turns a path in the file into a usable one (relative to the file's folder).
 */
export function parseJob(raw: unknown, source: string, resolve: (path: string) => string): JobSpec {
  const reader = new FieldReader(source);
  if (nestingDepth(raw) > MAX_NESTING) reader.fail('(top level)', `arrays and objects nested more than ${MAX_NESTING} levels deep; a job file nests 3 (see jobs/*.json)`);
  const top = reader.object(raw as Json, '(top level)');
  reader.noUnknownKeys(top, '', ['name', 'description', 'models', 'data', 'dmax', 'tau', 'depthCurves', 'keep', 'rule', 'db']);
  const name = top.name === undefined ? 'job' : reader.string(top.name, 'name');
  if (!/^[\w.-]+$/.test(name)) reader.fail('name', `must be letters, digits, '.', '_' or '-', got ${describe(name)}`);
  const models = reader.list(top.models, 'models').map((path, k) => resolve(reader.string(path, `models[${k}]`)));
  const data = reader.list(top.data, 'data').map((item, k) => parseDataSource(item, `data[${k}]`, reader, resolve));
  const dmax = top.dmax === undefined ? [DEFAULT_DMAX] : reader.list(top.dmax, 'dmax').map((d, k) => reader.integer(d, `dmax[${k}]`, 0, MAX_DMAX));
  const tau = top.tau === undefined ? [...DEFAULT_TAUS] : parseTaus(top.tau, reader);
  if (top.depthCurves !== undefined && typeof top.depthCurves !== 'boolean') reader.fail('depthCurves', `must be true or false, got ${describe(top.depthCurves)}`);
  const depthCurves = top.depthCurves === true;
  if (top.keep !== undefined && !RETENTIONS.includes(top.keep as Retention)) reader.fail('keep', `must be "full" or "summaries", got ${describe(top.keep)}`);
  const keep = top.keep as Retention | undefined;
  const rule = top.rule === undefined ? undefined : parseRule(top.rule, reader, 'rule');
  const db = top.db === undefined ? undefined : resolve(reader.string(top.db, 'db'));
  return { name, models, data, dmax, tau, ...(depthCurves ? { depthCurves } : {}), ...(keep === undefined ? {} : { keep }), ...(rule === undefined ? {} : { rule }), ...(db === undefined ? {} : { db }) };
}

/** An attribution rule by name: one of RULES (computation.ts). */
function parseRule(value: Json | undefined, reader: FieldReader, field: string): RuleName {
  if (!isRuleName(value)) reader.fail(field, `must be ${ruleChoices()}, got ${describe(value)}`);
  return value;
}

function parseDataSource(value: Json, field: string, reader: FieldReader, resolve: (path: string) => string): DataSource {
  const item = typeof value === 'string' ? { path: value } : reader.object(value, field);
  reader.noUnknownKeys(item, field, ['path', 'offset', 'length', 'stride', 'count', 'burnIn']);
  const path = resolve(reader.string(item.path, `${field}.path`));
  const offset = item.offset === undefined ? 0 : reader.integer(item.offset, `${field}.offset`, 0);
  const length = item.length === undefined ? DEFAULT_LENGTH : reader.integer(item.length, `${field}.length`, 2);
  let count: number | 'all' = 1;
  if (item.count === 'all') count = 'all';
  else if (item.count !== undefined) count = reader.integer(item.count, `${field}.count`, 1);
  if (item.stride === undefined && count !== 1) reader.fail(`${field}.stride`, 'is required when count is not 1');
  const stride = item.stride === undefined ? length : reader.integer(item.stride, `${field}.stride`, 1);
  const burnIn = item.burnIn === undefined ? 0 : reader.integer(item.burnIn, `${field}.burnIn`, 0);
  const source: DataSource = { path, offset, length, stride, count, ...(burnIn > 0 ? { burnIn } : {}) };
  checkBurnIn(source, reader, `${field}.burnIn`);
  return source;
}

/**
 * A burn-in reads the bytes before each window, so it may not reach before the
 * file's start: at most the first window's offset (later windows start further in).
 */
function checkBurnIn(source: DataSource, reader: FieldReader, field: string): void {
  const burnIn = burnInOf(source);
  if (burnIn > source.offset) {
    reader.fail(
      field,
      `a burn-in of ${burnIn} bytes is larger than the window's offset ${source.offset}: it would start ${burnIn - source.offset} bytes before the start of ${source.path}; ` +
        `use at most ${source.offset}, or a window at offset ≥ ${burnIn}`,
    );
  }
}

/** Applies CLI overrides to a job (or to the defaults, when there is no job file). */
export function applyOverrides(job: JobSpec, overrides: JobOverrides): JobSpec {
  const reader = new FieldReader('command line');
  if (overrides.burnIn !== undefined) reader.integer(overrides.burnIn, '--burn-in', 0);
  const data = job.data.map((source, k) => {
    const { burnIn, ...rest } = source;
    const chosen = overrides.burnIn ?? burnIn ?? 0;
    const overridden: DataSource = {
      ...rest,
      ...(overrides.data !== undefined ? { path: fromWorkingDirectory(overrides.data) } : {}),
      ...(overrides.offset !== undefined ? { offset: overrides.offset } : {}),
      ...(overrides.length !== undefined ? { length: overrides.length } : {}),
      ...(chosen > 0 ? { burnIn: chosen } : {}),
    };
    // --offset may move a window below its source's burn-in, --burn-in past a window's offset.
    checkBurnIn(overridden, reader, overrides.burnIn !== undefined ? '--burn-in' : `data[${k}].burnIn (with --offset ${overridden.offset})`);
    return overridden;
  });
  return {
    ...job,
    models: overrides.model !== undefined ? [fromWorkingDirectory(overrides.model)] : job.models,
    data,
    dmax: overrides.dmax !== undefined ? [overrides.dmax] : job.dmax,
    tau: overrides.tau !== undefined ? parseTaus(parseTauFlag(overrides.tau, reader), reader, '--tau') : job.tau,
    ...(overrides.depthCurves === true || job.depthCurves === true ? { depthCurves: true } : {}),
    ...(overrides.keep !== undefined ? { keep: overrides.keep } : job.keep !== undefined ? { keep: job.keep } : {}),
    ...(overrides.rule !== undefined ? { rule: parseRule(overrides.rule, reader, '--rule') } : job.rule !== undefined ? { rule: job.rule } : {}),
    ...(overrides.db !== undefined ? { db: overrides.db } : job.db !== undefined ? { db: job.db } : {}),
  };
}

function parseTauFlag(text: string, reader: FieldReader): Json {
  const parts = text.split(',').map((part) => part.trim());
  return parts.map((part, k) => {
    const value = Number(part);
    if (part === '' || Number.isNaN(value)) reader.fail(`--tau[${k}]`, `${JSON.stringify(part)} is not a number`);
    return value;
  });
}

/** Windows of one data source for a file of `fileSize` bytes: [offset, length] pairs. */
export function* windowsOf(source: DataSource, fileSize: number): Generator<{ offset: number; length: number }> {
  const { offset, length, stride, count } = source;
  if (count === 'all') {
    // Every full window; a file shorter than one window gives the one shorter window.
    let emitted = 0;
    for (let start = offset; start + length <= fileSize; start += stride) {
      emitted++;
      yield { offset: start, length };
    }
    if (emitted === 0) yield { offset, length };
    return;
  }
  for (let k = 0; k < count; k++) yield { offset: offset + k * stride, length };
}

/**
 * Positions a job asks for, given each data file's size (`fileSize`): every
 * model × window × Dmax, before identical windows are merged and whatever the
 * database already holds. What the default thread count is sized by, known
 * before any file is read.
 */
export function requestedPositions(spec: JobSpec, fileSize: (path: string) => number): number {
  let perModelAndDmax = 0;
  for (const source of spec.data) {
    const size = fileSize(source.path);
    for (const window of windowsOf(source, size)) perModelAndDmax += Math.max(0, Math.min(window.length, size - window.offset) - 1);
  }
  return perModelAndDmax * spec.models.length * spec.dmax.length;
}
