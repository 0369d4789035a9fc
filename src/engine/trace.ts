import { CLASS_COUNT, type RuleName } from './computation.js';
import { BYTE_VALUES, type Model } from './model.js';
import { createTraceKernel, frequencyLength, type TraceKernel, type TraceSlot } from './trace-kernel.js';

/**
 * Everything a trace needs that does not change between positions: the model,
 * the window's bytes, the forward states h_t, the thresholds τ (as float32, in
 * the caller's order) and Dmax. The arrays may live in SharedArrayBuffers.
 */
export interface TraceInput {
  readonly model: Model;
  readonly bytes: Uint8Array;
  /** h_t for t = 0 .. N-1, row t at t·H (see forwardStates). */
  readonly states: Float32Array;
  readonly thresholds: Float32Array;
  readonly dmax: number;
  /** The attribution rule (computation.ts). */
  readonly rule: RuleName;
  /**
   * Bytes read before the first traced position (a warm window's burn-in; 0 when
   * absent): `bytes` and `states` hold the whole sequence, burn-in first, and
   * position t of a range is t + burnIn of that sequence; its trace may reach
   * back into the burn-in (min(t + burnIn, Dmax) offsets).
   */
  readonly burnIn?: number;
  /**
   * The index in that sequence of `bytes[0]` and of the first row of `states`
   * (0 when absent): a long window is traced from pieces of it, each holding the
   * bytes and states its positions reach (from t + burnIn - Dmax to t + burnIn + 1).
   */
  readonly origin?: number;
  /**
   * The τ (float32) at which each pattern's activation frequency is counted (the
   * positions where it is active, as the counts decide it); none when absent.
   */
  readonly frequencyThresholds?: Float32Array;
}

/**
 * Layout of the per-pattern peak factors: one float32 array, elementwise-max
 * mergeable across ranges. A pattern's attribution at a position is a rounded
 * product `float32(factor · |w|)`, and rounding is monotone, so the maximum over
 * positions is `float32(max factor · |w|)`:
 * - `[0, H)`: for receiving neuron i, max |scaled[i]| over gated candidates (Wh j → i);
 * - `[H, H + 256·H)`: at `H + c·H + j`, max |f[j]| (the rule's Wx factor, wxFactor of
 *   computation.ts) at offsets whose byte is c (Wx (c, j));
 * - `[H + 256·H, H + 512·H)`: at `H + 256·H + y·H + j`, max |g[j]| with target y (Wy (j, y)).
 */
export function peakFactorLength(hidden: number): number {
  return hidden + 2 * BYTE_VALUES * hidden;
}

/** Results for a contiguous range of positions `[start, start + count)`. */
export interface RangeResult {
  readonly start: number;
  readonly count: number;
  /** The burn-in of the trace (TraceInput.burnIn; 0 when absent): position t reaches min(t + burnIn, Dmax) offsets. */
  readonly burnIn?: number;
  /** y = x_{t+1} per position. */
  readonly targets: Uint8Array;
  /** -log2 P_t[y] per position. */
  readonly surprisal: Float64Array;
  /** `[(p·T + k)·3 + class]`: n_x, n_h, n_y of position start+p at thresholds[k]. */
  readonly counts: Uint32Array;
  /** `[p·(Dmax+1) + d]`: depth mass of position start+p at offset d; NaN where d > t + burnIn. */
  readonly depthMass: Float32Array;
  /** Peak factors over the range, see peakFactorLength. */
  readonly peakFactors: Float32Array;
  /**
   * Per frequency τ k (TraceInput.frequencyThresholds), at k·frequencyLength(H) + pattern:
   * the positions of the range where the pattern is active (frequencyLength's layout).
   * Absent from ranges made elsewhere than traceRange (tests), which count none.
   */
  readonly frequency?: Uint32Array;
}

/**
 * Per-model tables, built once per model (per worker): `kernel` is the
 * WebAssembly trace (src/engine/trace.wat) holding its own copies of the
 * weights in its layouts, each Wh row's |w| sorted among them.
 */
export interface TraceTables {
  readonly kernel: TraceKernel;
}

/** Builds the per-model tables once (per worker); reuse them for every range. */
export function traceTables(model: Model): TraceTables {
  return { kernel: createTraceKernel(model) };
}

/**
 * The backward trace of spec steps 1–6 for positions `[start, start + count)`:
 * per position the target, surprisal, n_x n_h n_y at every τ and the depth
 * mass per offset, and over the range the peak factors of every pattern.
 *
 * Patterns are never enumerated per position: for a fixed weight w the maximum
 * over offsets of float32(|a_d|·|w|) is float32(max_d |a_d| · |w|), so a
 * position only keeps one maximum per receiving neuron (Wh) and per
 * (byte, neuron) seen (Wx). Everything runs in WebAssembly (trace.wat), the
 * softmax's exp too (a port of fdlibm's, which V8's Math.exp is); here only
 * the surprisal's log2. Positions go two at a time; each keeps the spec's order
 * in every sum.
 */
export function traceRange(input: TraceInput, tables: TraceTables, start: number, count: number): RangeResult {
  const { model, bytes, states, thresholds, dmax, rule } = input;
  const burnIn = input.burnIn ?? 0;
  const origin = input.origin ?? 0;
  if (origin > Math.max(0, start + burnIn - dmax)) throw new RangeError(`traceRange: positions from ${start} reach back before the input's origin ${origin}`);
  // Positions [start, start + count) are [first, first + count) of the sequence held by bytes and states.
  const first = start + burnIn;
  const H = model.hidden;
  const T = thresholds.length;
  const depthSlots = dmax + 1;
  const kernel = tables.kernel;

  const targets = new Uint8Array(count);
  const surprisal = new Float64Array(count);
  const counts = new Uint32Array(count * T * CLASS_COUNT);
  const depthMass = new Float32Array(count * depthSlots).fill(NaN);
  const peakFactors = new Float32Array(peakFactorLength(H));

  const chunkPositions = Math.max(1, Math.min(count, RANGE_CHUNK));
  const frequencyThresholds = input.frequencyThresholds ?? new Float32Array(0);
  const frequency = new Uint32Array(frequencyThresholds.length * frequencyLength(H));
  const view = kernel.prepareRange(thresholds, dmax, chunkPositions, rule, frequencyThresholds);
  const { exports } = kernel;
  const { Hp, slots, thresholdOrder, states: stateRows, bytes: byteWindow } = view;
  const rowBytes = 4 * Hp;

  /**
   * P_t in double (spec), in the kernel: the logits and their maximum, then
   * exp(logit - max) (fdlibm's exp, Math.exp's values) and their sum, returned;
   * the division is in `begin`.
   */
  const exponentials = (slot: TraceSlot, hPointer: number): number => exports.exponentials(slot.pointer, exports.logits(slot.pointer, hPointer));
  /** Copies a finished slot's counts (caller's τ order) and depth masses into the range's arrays. */
  const collect = (slot: TraceSlot, p: number, depth: number): void => {
    const countBase = p * T * CLASS_COUNT;
    const slotCounts = slot.counts;
    for (let k = 0; k < T; k++) {
      const to = countBase + thresholdOrder[k] * CLASS_COUNT;
      counts[to] = slotCounts[3 * k];
      counts[to + 1] = slotCounts[3 * k + 1];
      counts[to + 2] = slotCounts[3 * k + 2];
    }
    depthMass.set(slot.depth.subarray(0, depth + 1), p * depthSlots);
  };

  for (let chunkStart = first; chunkStart < first + count; chunkStart += chunkPositions) {
    const chunkEnd = Math.min(first + count, chunkStart + chunkPositions);
    // Rows h_s for s in [firstRow, chunkEnd) (h_{t-d} down to d = Dmax, which gated-wx reads) and bytes x in [firstByte, chunkEnd].
    const firstRow = Math.max(0, chunkStart - dmax);
    for (let s = firstRow; s < chunkEnd; s++) stateRows.set(states.subarray((s - origin) * H, (s - origin + 1) * H), (s - firstRow) * Hp);
    const firstByte = Math.max(0, chunkStart - dmax);
    byteWindow.set(bytes.subarray(firstByte - origin, chunkEnd + 1 - origin));

    // Positions two at a time (t in slot 0, t + 1 in slot 1): their chains share each pass over Wh.
    for (let t = chunkStart; t < chunkEnd; t += 2) {
      const pair = t + 1 < chunkEnd;
      const last = pair ? 2 : 1;
      const depths = [Math.min(dmax, t), Math.min(dmax, t + 1)];
      for (let k = 0; k < last; k++) {
        const p = t + k - first;
        const y = bytes[t + k + 1 - origin];
        targets[p] = y;
        const hPointer = view.statesPointer + (t + k - firstRow) * rowBytes;
        const sum = exponentials(slots[k], hPointer);
        surprisal[p] = -Math.log2(slots[k].probabilities[y] / sum);
        exports.begin(slots[k].pointer, hPointer, view.bytesPointer + (t + k - firstByte), y, depths[k], sum);
      }
      if (pair) {
        // depths[1] is depths[0] or depths[0] + 1.
        exports.chain2(slots[0].pointer, slots[1].pointer, depths[0]);
        exports.chain1(slots[1].pointer, depths[0] + 1, depths[1]);
      } else {
        exports.chain1(slots[0].pointer, 1, depths[0]);
      }
      for (let k = 0; k < last; k++) {
        exports.finish(slots[k].pointer);
        collect(slots[k], t + k - first, depths[k]);
      }
    }
  }
  view.readPeakFactors(peakFactors);
  view.readFrequency(frequency);
  return { start, count, ...(burnIn > 0 ? { burnIn } : {}), targets, surprisal, counts, depthMass, peakFactors, frequency };
}

/** Positions traced per copy of forward states into the kernel. */
const RANGE_CHUNK = 512;
