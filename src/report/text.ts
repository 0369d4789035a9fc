import { forwardStates, type PatternClass } from '../engine/index.js';
import { activePatternsAt, explainPosition } from '../engine/explain.js';
import { loadDataWindow, loadModel } from '../model/index.js';
import type { Db, RunRow } from '../store/index.js';
import { runCountBlocks, runPositionRows } from '../store/surprise.js';
import { decodeCountBlock } from '../store/countBlocks.js';

/**
 * "The text in colour" of a one-run page (issue #19): the window's bytes, each
 * with its position's counts at every τ and its surprisal, and, for a few
 * chosen positions, the explanation `explain` gives (its first patterns and the
 * depth mass over the earlier bytes), computed when the page is made.
 *
 * Explaining a position recomputes its backward trace pattern by pattern
 * (engine/explain.ts): about 23 ms of CPU at Dmax 50 (measured on the Q1 run),
 * so all 1,023 positions of a 1 KiB window would take about 24 s. The page
 * explains the positions of at least 1 bit of surprisal and then those with the
 * most active patterns at the colour τ, TEXT_EXPLAINED in all (1.5 s), and says how to
 * list any other (`sparsetrace explain`). Windows longer than TEXT_BYTES_MAX bytes
 * show their first TEXT_BYTES_MAX, with a note (`sparsetrace export` lists every position).
 */
export const TEXT_BYTES_MAX = 4096;
export const TEXT_EXPLAINED = 64;
/** Patterns listed per explained position (`explain --format json` lists all). */
export const TEXT_TOP_PATTERNS = 10;

/** A position of the text: t, its target and surprisal, and n_x, n_h, n_y at each τ (in `taus` order). */
export interface TextPosition {
  readonly t: number;
  readonly y: number;
  readonly surprisal: number;
  readonly counts: readonly (readonly [number, number, number])[];
}

/** A chosen position's explanation: its first active patterns at the explanation's τ and its depth mass per offset. */
export interface TextExplanation {
  readonly t: number;
  readonly active: number;
  readonly patterns: readonly { readonly class: PatternClass; readonly src: number; readonly dst: number; readonly d: number; readonly attribution: number }[];
  /** Depth mass at d = 0 … min(t, Dmax): d ≥ 1 belongs to the byte x_{t−d} (spec, step 4). */
  readonly depthMass: readonly number[];
}

export interface TextSection {
  readonly run: { readonly run_id: string; readonly dmax: number; readonly data_length: number };
  /** The window's bytes shown (the first TEXT_BYTES_MAX); null where unknown (the data file is gone: x_0). */
  readonly bytes: readonly (number | null)[];
  readonly taus: readonly number[];
  /** Index in `taus` of the τ the page colours by first. */
  readonly colourTau: number;
  readonly positions: readonly TextPosition[];
  /** τ of the explanations' listings. */
  readonly explainTau: number;
  readonly explanations: readonly TextExplanation[];
  /** Why some of it is missing (a changed data or model file), for the page. */
  readonly notes: readonly string[];
}

/**
 * The text section of one run: its stored positions (the first TEXT_BYTES_MAX),
 * counts at every τ, the window's bytes from its data file (checked against the
 * run's hash; else the stored targets), and the chosen positions' explanations.
 */
export function gatherText(db: Db, run: RunRow, colourTau: number, explainTau: number, explained = TEXT_EXPLAINED): TextSection {
  const limit = Math.min(run.positions, TEXT_BYTES_MAX);
  const rows = runPositionRows(db, run.run_id, limit);
  const taus = run.taus;
  const counts = new Map<number, [number, number, number][]>(rows.map((row) => [row.t, []]));
  const runKey = rows[0]?.run_key;
  for (const tau of taus) {
    if (runKey === undefined) break;
    for (const block of runCountBlocks(db, runKey, Math.fround(tau))) {
      if (block.start >= limit) continue;
      const values = decodeCountBlock(block, block.count);
      for (let p = 0; p < block.count; p++) counts.get(block.start + p)?.push([values[3 * p], values[3 * p + 1], values[3 * p + 2]]);
    }
  }
  const positions = rows.map((row) => ({ t: row.t, y: row.y, surprisal: row.surprisal_bits, counts: counts.get(row.t) ?? [] }));
  const notes: string[] = [];
  // The bytes: x_0 … from the data file; without it, x_{t+1} are the stored targets and x_0 is unknown.
  let window: Uint8Array | undefined;
  // The bytes the network read: a warm window's burn-in, then the window (the explanations reach back into the burn-in).
  let sequence: Uint8Array | undefined;
  try {
    const loaded = loadDataWindow(run.data_path, run.data_offset, run.data_length, run.burn_in);
    if (loaded.sha256 === run.data_sha256) {
      sequence = loaded.bytes;
      window = loaded.bytes.subarray(run.burn_in);
    }
    else notes.push(`data ${run.data_path}: the window changed since the run; bytes from the stored targets, no explanations`);
  } catch (error) {
    notes.push(`${(error as Error).message}; bytes from the stored targets, no explanations`);
  }
  const shown = Math.min(run.data_length, limit + 1);
  const bytes: (number | null)[] = [];
  for (let k = 0; k < shown; k++) bytes.push(window ? window[k] : k === 0 ? null : (positions[k - 1]?.y ?? null));
  const colourIndex = Math.max(0, taus.findIndex((tau) => Math.fround(tau) === Math.fround(colourTau)));
  const explanations = sequence ? explainChosen(run, sequence, positions, colourIndex, explainTau, explained, notes) : [];
  return {
    run: { run_id: run.run_id, dmax: run.dmax, data_length: run.data_length },
    bytes,
    taus,
    colourTau: colourIndex,
    positions,
    explainTau,
    explanations,
    notes,
  };
}

/** The positions explained: ≥ 1 bit of surprisal (most surprising first), then the most active patterns at the colour τ. */
export function chosenPositions(positions: readonly TextPosition[], colourIndex: number, count: number): number[] {
  const total = (position: TextPosition): number => {
    const at = position.counts[colourIndex];
    return at === undefined ? 0 : at[0] + at[1] + at[2];
  };
  const surprising = positions.filter((position) => position.surprisal >= 1).sort((a, b) => b.surprisal - a.surprisal || a.t - b.t);
  const busy = [...positions].sort((a, b) => total(b) - total(a) || a.t - b.t);
  const chosen = new Set<number>();
  for (const position of [...surprising, ...busy]) {
    if (chosen.size >= count) break;
    chosen.add(position.t);
  }
  return [...chosen].sort((a, b) => a - b);
}

/** Explanations of the chosen positions; `bytes` is the sequence the network read (the burn-in, then the window). */
function explainChosen(run: RunRow, bytes: Uint8Array, positions: readonly TextPosition[], colourIndex: number, tau: number, count: number, notes: string[]): TextExplanation[] {
  const chosen = chosenPositions(positions, colourIndex, count);
  if (chosen.length === 0) return [];
  let model;
  try {
    model = loadModel(run.model_path);
  } catch (error) {
    notes.push(`${(error as Error).message}; no explanations`);
    return [];
  }
  if (model.sha256 !== run.model_sha256) {
    notes.push(`model ${run.model_path}: its content changed since the run; no explanations`);
    return [];
  }
  // One forward pass up to the last chosen position's target.
  const prefix = bytes.subarray(0, run.burn_in + chosen[chosen.length - 1] + 2);
  const states = forwardStates(model.model, prefix);
  return chosen.map((t) => {
    const explanation = explainPosition({ model: model.model, bytes: prefix, states, t, dmax: run.dmax, rule: run.rule, burnIn: run.burn_in });
    const active = activePatternsAt(explanation, tau);
    return {
      t,
      active: active.length,
      patterns: active.slice(0, TEXT_TOP_PATTERNS).map((p) => ({ class: p.cls, src: p.src, dst: p.dst, d: p.d, attribution: p.attribution })),
      depthMass: [...explanation.depthMass],
    };
  });
}
