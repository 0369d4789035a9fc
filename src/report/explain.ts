import { DEFAULT_RULE, forwardKernel, type PatternClass, type RuleName } from '../engine/index.js';
import { activeCountsAt, activePatternsAt, explainPosition } from '../engine/explain.js';
import { InputError } from '../errors.js';
import { loadModel, readDataBytes, scanDataWindow } from '../model/index.js';
import { storedCountsAt, type Db, type RunRow } from '../store/index.js';
import { formatTau } from './format.js';
import { byteLabel } from './labels.js';
import { renderText, type Table } from './table.js';

/** `explain`'s result: one position of one run recomputed, its counts beside the stored ones, and the active patterns at τ. */
export interface Explanation {
  readonly run: {
    readonly run_id: string;
    readonly model_path: string;
    readonly data_path: string;
    readonly data_offset: number;
    readonly dmax: number;
    readonly rule: RuleName;
    /** Bytes read before the window (0: a cold window); the trace may reach back into them. */
    readonly burn_in: number;
  };
  readonly t: number;
  readonly y: number;
  readonly surprisal_bits: number;
  /** Up to 40 bytes read before and at t (the input so far; a warm window's include its burn-in), and the target. */
  readonly context: { readonly before: number[]; readonly target: number };
  /** Counts of the recomputation at every τ of the run, and the stored ones (null if the position is not stored yet). */
  readonly counts: readonly {
    readonly tau: number;
    readonly n_x: number;
    readonly n_h: number;
    readonly n_y: number;
    readonly stored: { readonly n_x: number; readonly n_h: number; readonly n_y: number } | null;
  }[];
  /** Mass per offset d = 0 .. min(t + burn-in, Dmax) at this position. */
  readonly depth_mass: readonly number[];
  /** τ of the listing. */
  readonly tau: number;
  /** Active patterns at τ, by attribution descending. */
  readonly patterns: readonly { readonly class: PatternClass; readonly src: number; readonly dst: number; readonly d: number; readonly attribution: number }[];
}

/**
 * Recomputes position `t` of `run` with the engine from the run's model and data
 * files, checked against the hashes the run recorded.
 */
export function gatherExplanation(db: Db, run: RunRow, t: number, tau: number): Explanation {
  if (!(Number.isSafeInteger(t) && t >= 0 && t < run.positions)) {
    throw new InputError(`--t ${t}: run ${run.run_id} has positions 0 .. ${run.positions - 1}`);
  }
  if (!(tau > 0 && Number.isFinite(tau))) throw new InputError(`--tau ${tau}: must be a number > 0`);
  const loaded = loadModel(run.model_path);
  if (loaded.sha256 !== run.model_sha256) {
    throw new InputError(`model ${run.model_path}: its content changed since run ${run.run_id} (sha256 ${loaded.sha256.slice(0, 12)}, the run used ${run.model_sha256.slice(0, 12)})`);
  }
  // A warm window is read after its burn-in bytes, from h = 0 at the first of them (the hash covers them all).
  const burnIn = run.burn_in;
  const window = scanDataWindow(run.data_path, run.data_offset, run.data_length, burnIn);
  if (window.sha256 !== run.data_sha256) {
    throw new InputError(
      `data ${run.data_path}: the window at offset ${run.data_offset}${burnIn > 0 ? ` (with its ${burnIn} bytes of burn-in)` : ''} changed since run ${run.run_id} (its sha256 differs)`,
    );
  }
  // Position t is byte s = burnIn + t of the sequence; its trace reads h and x from s - Dmax on, and
  // x_{s+1}. The forward pass up to there goes in pieces, keeping only the state it carries, so a
  // position far into a long window needs no more memory than one near its start.
  const s = burnIn + t;
  const origin = Math.max(0, s - run.dmax);
  const start = run.data_offset - burnIn;
  const kernel = forwardKernel(loaded.model);
  const H = loaded.model.hidden;
  let carried: Float32Array | undefined;
  for (let at = 0; at < origin; at += EXPLAIN_PIECE) {
    const piece = kernel.states(readDataBytes(run.data_path, start + at, Math.min(EXPLAIN_PIECE, origin - at)), carried);
    carried = piece.slice(piece.length - H);
  }
  const bytes = readDataBytes(run.data_path, start + origin, s + 2 - origin);
  const states = kernel.states(bytes, carried);
  // The trace from the piece [origin, s + 1]: position 0 after a burn-in of s - origin reaches min(s - origin, Dmax) = min(s, Dmax) offsets, as t does.
  const explanation = explainPosition({ model: loaded.model, bytes, states, t: 0, dmax: run.dmax, rule: run.rule, burnIn: s - origin });
  const context = readDataBytes(run.data_path, start + Math.max(0, s - 39), s + 1 - Math.max(0, s - 39));
  const stored = new Map(storedCountsAt(db, run.run_id, t).map((row) => [row.tau, row]));
  const taus = run.taus;
  return {
    run: { run_id: run.run_id, model_path: run.model_path, data_path: run.data_path, data_offset: run.data_offset, dmax: run.dmax, rule: run.rule, burn_in: burnIn },
    t,
    y: explanation.y,
    surprisal_bits: explanation.surprisal,
    context: { before: [...context], target: explanation.y },
    counts: taus.map((value) => {
      const row = stored.get(value);
      return { tau: value, ...activeCountsAt(explanation, value), stored: row ? { n_x: row.n_x, n_h: row.n_h, n_y: row.n_y } : null };
    }),
    depth_mass: [...explanation.depthMass],
    tau,
    patterns: activePatternsAt(explanation, tau).map((p) => ({ class: p.cls, src: p.src, dst: p.dst, d: p.d, attribution: p.attribution })),
  };
}

/** Bytes forwarded at a time before the position explain recomputes (their states are not kept). */
const EXPLAIN_PIECE = 1 << 16;

/** Source and target of a pattern in words: bytes for Wx sources and Wy targets, neurons h[j] otherwise. */
export function patternEnds(pattern: { class: PatternClass; src: number; dst: number }): [string, string] {
  switch (pattern.class) {
    case 'wx':
      return [`byte ${byteLabel(pattern.src)}`, `h[${pattern.dst}]`];
    case 'wh':
      return [`h[${pattern.src}]`, `h[${pattern.dst}]`];
    case 'wy':
      return [`h[${pattern.src}]`, `byte ${byteLabel(pattern.dst)}`];
  }
}

const CLASS_NAMES: Record<PatternClass, string> = { wx: 'Wx', wh: 'Wh', wy: 'Wy' };

/** The tables of an explanation: counts per τ (with the stored ones) and the active patterns (at most `limit`). */
export function explanationTables(explanation: Explanation, limit = Infinity): Table[] {
  const patterns = explanation.patterns.slice(0, limit);
  return [
    {
      title: `Counts at position t = ${explanation.t}, recomputed and stored`,
      columns: ['Threshold τ', 'n_x', 'n_h', 'n_y', 'n', 'stored n_x n_h n_y', 'agree'],
      rows: explanation.counts.map((row) => [
        formatTau(row.tau),
        String(row.n_x),
        String(row.n_h),
        String(row.n_y),
        String(row.n_x + row.n_h + row.n_y),
        row.stored ? `${row.stored.n_x} ${row.stored.n_h} ${row.stored.n_y}` : 'not stored',
        row.stored ? (row.stored.n_x === row.n_x && row.stored.n_h === row.n_h && row.stored.n_y === row.n_y ? 'yes' : 'NO') : '',
      ]),
      alignRight: [false, true, true, true, true, true, false],
    },
    {
      title:
        `Active patterns at τ = ${formatTau(explanation.tau)}: ${explanation.patterns.length}` +
        (patterns.length < explanation.patterns.length ? ` (the first ${patterns.length} shown)` : ''),
      columns: ['#', 'Class', 'Source', 'Target', 'Peak d', 'Attribution'],
      rows: patterns.map((p, k) => {
        const [source, target] = patternEnds(p);
        return [String(k + 1), CLASS_NAMES[p.class], source, target, String(p.d), p.attribution.toPrecision(6)];
      }),
      alignRight: [true, false, false, false, true, true],
    },
  ];
}

export function explanationHeadline(explanation: Explanation): string[] {
  const text = Buffer.from(explanation.context.before).toString('latin1').replace(/[^\x20-\x7e]/g, '·');
  return [
    `Run ${explanation.run.run_id} (Dmax ${explanation.run.dmax}${explanation.run.rule === DEFAULT_RULE ? '' : `, rule ${explanation.run.rule}`}${explanation.run.burn_in > 0 ? `, burn-in ${explanation.run.burn_in}` : ''}), position t = ${explanation.t}: predicting ${byteLabel(explanation.y)} after «…${text}»`,
    `Surprisal ${explanation.surprisal_bits.toFixed(4)} bits; traced to depth ${explanation.depth_mass.length - 1}`,
  ];
}

export function formatExplanation(explanation: Explanation, format: 'text' | 'json', limit = 50): string {
  if (format === 'json') return `${JSON.stringify(explanation, null, 1)}\n`;
  return [explanationHeadline(explanation).join('\n') + '\n', ...explanationTables(explanation, limit).map(renderText)].join('\n');
}
