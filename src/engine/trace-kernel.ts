import type { RuleName } from './computation.js';
import { TRACE_RULES, TRACE_SLOT, TRACE_SLOT_BYTES } from './generated/trace-layout.js';
import { traceWasmBase64 } from './generated/trace-wasm.js';
import { BYTE_VALUES, type Model } from './model.js';

/** The kernel's code of every rule: a rule without an `@rule` line in trace.wat does not compile. */
const KERNEL_RULE: Record<RuleName, number> = TRACE_RULES;

/** The exports of src/engine/trace.wat. */
interface TraceExports {
  readonly memory: WebAssembly.Memory;
  setup(...offsets: number[]): void;
  setupRange(thresholdCount: number, taus: number, rule: number): void;
  /** The range's frequency τ (count, offset) and its per-pattern counters (see trace.wat, $FT); after setupRange. */
  setupFrequency(count: number, taus: number, wx: number, wh: number, wy: number): void;
  /** Lays out Wh, Wy and Wx (row-major copies at these offsets) into the kernel's regions, and |Wh| unsorted into whSorted. */
  layout(rawWh: number, rawWy: number, rawWx: number): void;
  /** The slot's probabilities[o] = exp(probabilities[o] - max) (Math.exp's values, fdlibm's exp); returns their sum in order o. */
  exponentials(slot: number, max: number): number;
  /** exp(x) as `exponentials` computes it. */
  exp(x: number): number;
  /** Pattern peaks (Wx, Wh, Wy, as patternPeaks lays them out) at `out` from peak factors at `factors`. */
  peaks(factors: number, out: number): void;
  /** Depth masses of `n` positions into per-position totals and peaks and per-offset sums and counts (see trace.wat). */
  summarize(masses: number, n: number, slots: number, firstT: number, dmax: number, accs: number, positions: number, total: number, totals: number, peaks: number): void;
  /** The slot's probabilities[o] = logit[o] of the state row at `state`; returns the largest. */
  logits(slot: number, state: number): number;
  /**
   * Starts a position in a slot: the state row of h_t, the byte x_t, the target y, min(Dmax, t),
   * and the sum of the slot's probabilities (then exp(logit - max)), which it divides by.
   */
  begin(slot: number, state: number, byte: number, target: number, depth: number, sum: number): void;
  /** Chain steps d = 1 .. to of two slots together. */
  chain2(slotA: number, slotB: number, to: number): void;
  /** Chain steps d = from .. to of one slot. */
  chain1(slot: number, from: number, to: number): void;
  /** Ends the slot's position: its counts and depth masses. */
  finish(slot: number): void;
}

/** One of the kernel's two per-position slots (see trace.wat). */
export interface TraceSlot {
  /** The slot record's offset, passed to the kernel. */
  readonly pointer: number;
  /** logits after `logits`, to be turned into exp(logit - max) in place before `begin`. */
  readonly probabilities: Float64Array;
  /** `[k·3 + class]` after `finish`, k in ascending τ order (see thresholdOrder). */
  readonly counts: Uint32Array;
  /** Depth mass at d = 0 .. the position's depth after `finish`. */
  readonly depth: Float32Array;
}

/** Views into the kernel's memory for one range (valid until the next prepareRange). */
export interface TraceRangeView {
  /** Hidden size padded to a multiple of 32: the row stride of every hidden vector. */
  readonly Hp: number;
  readonly slots: readonly [TraceSlot, TraceSlot];
  /** thresholdOrder[k]: the caller's index of the k-th smallest τ. */
  readonly thresholdOrder: Int32Array;
  /** Forward state rows (stride Hp, padding zero) and their byte offset. */
  readonly states: Float32Array;
  readonly statesPointer: number;
  /** Window bytes and their byte offset. */
  readonly bytes: Uint8Array;
  readonly bytesPointer: number;
  /** Writes the range's peak factors in the layout of peakFactorLength. */
  readPeakFactors(into: Float32Array): void;
  /** Writes the range's activation frequencies, per frequency τ in the caller's order, in the layout of frequencyLength. */
  readFrequency(into: Uint32Array): void;
}

export interface TraceKernel {
  readonly exports: TraceExports;
  /**
   * Sizes the per-range regions, sets τ and the rule, clears the range peak factors
   * and the activation frequencies at `frequencyThresholds` (none: not counted).
   */
  prepareRange(thresholds: Float32Array, dmax: number, chunkPositions: number, rule: RuleName, frequencyThresholds?: Float32Array): TraceRangeView;
  /** Pattern peaks of `peakFactors` (patternPeaks of patterns.ts, computed here). Uses the range regions: not while a range is traced. */
  patternPeaks(peakFactors: Float32Array): { wx: Float32Array; wh: Float32Array; wy: Float32Array };
  /**
   * The per-position and per-offset parts of summarizeRange (results.ts) for
   * `depthMass` (`slots` float32 a position) of positions t = start … start + count - 1:
   * each position's exact total and peak offset, each offset's positions and its
   * exact sum's partials (increasing magnitude). Uses the range regions.
   */
  summarizeDepths(depthMass: Float32Array, start: number, count: number, dmax: number): DepthSummary;
}

/** What summarizeDepths returns. */
export interface DepthSummary {
  readonly massTotal: Float64Array;
  readonly peakDepth: Int32Array;
  readonly depthPositions: Uint32Array;
  /** Per offset d, the partials of its exact sum. */
  readonly depthPartials: readonly Float64Array[];
}

/**
 * Values of one τ's activation frequencies: per pattern, the positions where it
 * is active. Wx (c, j) at c·H + j, then Wh (j → i) at 256·H + i·H + j, then
 * Wy (j, y) at 256·H + H² + y·H + j (rows as the store keeps them).
 */
export function frequencyLength(hidden: number): number {
  return 2 * BYTE_VALUES * hidden + hidden * hidden;
}

/** Bytes of one exact-sum accumulator of trace.wat: a count and 16 f64 partials. */
const ACCUMULATOR_BYTES = 136;
/** Depth masses copied into the kernel per call of `summarize`, at most (floats). */
const SUMMARY_CHUNK_FLOATS = 1 << 20;

const WASM_PAGE_BYTES = 65536;
let compiledTrace: WebAssembly.Module | undefined;

function traceModule(): WebAssembly.Module {
  compiledTrace ??= new WebAssembly.Module(Uint8Array.from(atob(traceWasmBase64), (ch) => ch.charCodeAt(0)));
  return compiledTrace;
}

let expInstance: ((x: number) => number) | undefined;

/** exp(x) as the kernel computes the softmax (fdlibm's exp, as V8's Math.exp). For tests: it must equal Math.exp bit for bit. */
export function kernelExp(x: number): number {
  expInstance ??= (new WebAssembly.Instance(traceModule()).exports as unknown as TraceExports).exp;
  return expInstance(x);
}

/** Hands out 16-byte-aligned regions of the kernel's memory. */
class Regions {
  end = 0;
  take(bytes: number): number {
    const offset = this.end;
    this.end += Math.ceil(bytes / 16) * 16;
    return offset;
  }
}

function ensureMemory(memory: WebAssembly.Memory, bytes: number): void {
  const have = memory.buffer.byteLength;
  if (bytes > have) memory.grow(Math.ceil((bytes - have) / WASM_PAGE_BYTES));
}

/** A trace kernel with its own copies of the model's weights in the layouts of trace.wat. */
export function createTraceKernel(model: Model): TraceKernel {
  const H = model.hidden;
  const Hp = Math.ceil(H / 32) * 32;
  const exports = new WebAssembly.Instance(traceModule()).exports as unknown as TraceExports;
  const { memory } = exports;
  const regions = new Regions();
  const wh = regions.take(4 * Hp * H);
  const whSorted = regions.take(4 * H * H);
  const wyT = regions.take(4 * H * BYTE_VALUES);
  const wy = regions.take(4 * BYTE_VALUES * Hp);
  const by = regions.take(4 * BYTE_VALUES);
  const wxAbs = regions.take(4 * BYTE_VALUES * Hp);
  const rScaledMax = regions.take(4 * Hp);
  const rInputMax = regions.take(4 * BYTE_VALUES * Hp);
  const rOutputMax = regions.take(4 * BYTE_VALUES * Hp);
  // Two slots; their records' regions are fixed here, counts, depth and depthBuf per range (trace.wat, "@slot").
  const slotRegions = [0, 1].map(() => ({
    record: regions.take(TRACE_SLOT_BYTES),
    b: regions.take(4 * Hp),
    scaled: regions.take(16 * Hp), // splatted: scaled[i] in four lanes
    scaledMax: regions.take(4 * Hp),
    inputMax: regions.take(4 * BYTE_VALUES * Hp),
    seen: regions.take(BYTE_VALUES),
    seenList: regions.take(4 * BYTE_VALUES),
    nxBuf: regions.take(4 * BYTE_VALUES * Hp),
    probs: regions.take(8 * BYTE_VALUES),
  }));
  const modelEnd = regions.end;
  // Row-major copies of Wh, Wy, Wx go past the model's regions, where the ranges' regions
  // go later: `layout` (trace.wat) lays them out from there.
  const rawWh = modelEnd;
  const rawWy = rawWh + 4 * H * H;
  const rawWx = rawWy + 4 * BYTE_VALUES * H;
  ensureMemory(memory, rawWx + 4 * H * BYTE_VALUES);

  const f32 = (offset: number, length: number): Float32Array => new Float32Array(memory.buffer, offset, length);
  f32(rawWh, H * H).set(model.wh.subarray(0, H * H));
  f32(rawWy, BYTE_VALUES * H).set(model.wy.subarray(0, BYTE_VALUES * H));
  f32(rawWx, H * BYTE_VALUES).set(model.wx.subarray(0, H * BYTE_VALUES));
  f32(by, BYTE_VALUES).set(model.by);
  const first = slotRegions[0];
  exports.setup(H, Hp, wh, whSorted, wyT, wy, by, wxAbs, rScaledMax, rInputMax, rOutputMax,
    first.scaledMax, first.inputMax, first.b, first.scaled, first.probs, first.seen, first.seenList, first.nxBuf);
  exports.layout(rawWh, rawWy, rawWx);
  // Each Wh row's |w| ascending (n_h counts by searching them).
  const whAbsSorted = f32(whSorted, H * H);
  for (let i = 0; i < H; i++) whAbsSorted.subarray(i * H, (i + 1) * H).sort();
  // whOrder[i·H + s]: the j of the s-th smallest |Wh[i][j]|. Ties have one |w|, so one
  // product, active together: which of them goes first does not change a count.
  const whOrder = new Int32Array(H * H);
  for (let i = 0; i < H; i++) {
    const row = model.wh.subarray(i * H, (i + 1) * H);
    const order = Array.from({ length: H }, (_, j) => j).sort((a, b) => Math.abs(row[a]) - Math.abs(row[b]) || a - b);
    whOrder.set(order, i * H);
  }
  /** Sets slot record fields (by their trace.wat names) to region offsets. */
  const setFields = (record: number, fields: Partial<Record<keyof typeof TRACE_SLOT, number>>): void => {
    const words = new Int32Array(memory.buffer, record, TRACE_SLOT_BYTES / 4);
    for (const [name, value] of Object.entries(fields)) words[TRACE_SLOT[name as keyof typeof TRACE_SLOT] / 4] = value;
  };
  for (const slot of slotRegions) {
    const { b, scaled, scaledMax, inputMax, seen, seenList, nxBuf, probs } = slot;
    setFields(slot.record, { b, scaled, scaledMax, inputMax, seen, seenList, nxBuf, probs });
  }

  return {
    exports,
    patternPeaks(peakFactors: Float32Array) {
      const factors = modelEnd;
      const out = factors + 4 * peakFactors.length;
      const patterns = 2 * BYTE_VALUES * H + H * H;
      ensureMemory(memory, out + 4 * patterns);
      f32(factors, peakFactors.length).set(peakFactors);
      exports.peaks(factors, out);
      return {
        wx: f32(out, H * BYTE_VALUES).slice(),
        wh: f32(out + 4 * H * BYTE_VALUES, H * H).slice(),
        wy: f32(out + 4 * (H * BYTE_VALUES + H * H), BYTE_VALUES * H).slice(),
      };
    },
    summarizeDepths(depthMass: Float32Array, start: number, count: number, dmax: number): DepthSummary {
      const slots = dmax + 1;
      const chunk = Math.max(1, Math.min(count, Math.floor(SUMMARY_CHUNK_FLOATS / slots)));
      const scratch = new Regions();
      scratch.end = modelEnd;
      const accs = scratch.take(ACCUMULATOR_BYTES * slots);
      const positions = scratch.take(4 * slots);
      const total = scratch.take(ACCUMULATOR_BYTES);
      const totals = scratch.take(8 * chunk);
      const peaks = scratch.take(4 * chunk);
      const masses = scratch.take(4 * chunk * slots);
      ensureMemory(memory, scratch.end);
      new Uint8Array(memory.buffer, accs, total - accs).fill(0);
      const massTotal = new Float64Array(count);
      const peakDepth = new Int32Array(count);
      for (let first = 0; first < count; first += chunk) {
        const n = Math.min(chunk, count - first);
        f32(masses, n * slots).set(depthMass.subarray(first * slots, (first + n) * slots));
        exports.summarize(masses, n, slots, start + first, dmax, accs, positions, total, totals, peaks);
        massTotal.set(new Float64Array(memory.buffer, totals, n), first);
        peakDepth.set(new Int32Array(memory.buffer, peaks, n), first);
      }
      const accumulatorWords = new Int32Array(memory.buffer, accs, (ACCUMULATOR_BYTES / 4) * slots);
      const depthPartials = Array.from({ length: slots }, (_, d) => {
        const partialCount = accumulatorWords[(ACCUMULATOR_BYTES / 4) * d]; // each accumulator starts with its count
        return new Float64Array(memory.buffer, accs + ACCUMULATOR_BYTES * d + 8, partialCount).slice();
      });
      return { massTotal, peakDepth, depthPositions: new Uint32Array(memory.buffer, positions, slots).slice(), depthPartials };
    },
    prepareRange(thresholds: Float32Array, dmax: number, chunkPositions: number, rule: RuleName, frequencyThresholds = new Float32Array(0)): TraceRangeView {
      const T = thresholds.length;
      const FT = frequencyThresholds.length;
      // n_h searches four τ at a time: τ padded with +Infinity (never exceeded), counts with room for them.
      const paddedT = Math.ceil(T / 4) * 4;
      const range = new Regions();
      range.end = modelEnd;
      const taus = range.take(4 * paddedT);
      // Depth masses are summed four offsets at a time: room for three more, and rows for them.
      const perSlot = slotRegions.map(() => ({
        counts: range.take(4 * 3 * paddedT),
        depth: range.take(4 * (dmax + 4)),
        depthRows: range.take(4 * Hp * (dmax + 3)),
      }));
      const stateRows = chunkPositions + dmax;
      const statesPointer = range.take(4 * Hp * stateRows);
      const byteCount = chunkPositions + dmax + 1;
      const bytesPointer = range.take(byteCount);
      const frequencyTaus = range.take(4 * FT);
      const frequencyWx = range.take(4 * FT * BYTE_VALUES * Hp);
      const frequencyWh = range.take(4 * FT * H * Hp);
      const frequencyWy = range.take(4 * FT * BYTE_VALUES * Hp);
      ensureMemory(memory, range.end);
      new Uint8Array(memory.buffer, modelEnd, range.end - modelEnd).fill(0);
      // The kernel takes τ ascending (n_h stops at the first τ a row cannot exceed).
      const thresholdOrder = Int32Array.from(thresholds.keys()).sort((a, b) => thresholds[a] - thresholds[b] || a - b);
      f32(taus, paddedT).fill(Infinity).set(Float32Array.from(thresholdOrder, (k) => thresholds[k]));
      f32(rScaledMax, Hp).fill(0);
      // Left clear by every finished position; cleared again in case a range was abandoned midway.
      for (const slot of slotRegions) {
        f32(slot.inputMax, BYTE_VALUES * Hp).fill(0);
        new Uint8Array(memory.buffer, slot.seen, BYTE_VALUES).fill(0);
      }
      f32(rInputMax, BYTE_VALUES * Hp).fill(0);
      f32(rOutputMax, BYTE_VALUES * Hp).fill(0);
      exports.setupRange(T, taus, KERNEL_RULE[rule]);
      // The frequency counters were cleared with the range's regions above.
      f32(frequencyTaus, FT).set(frequencyThresholds);
      exports.setupFrequency(FT, frequencyTaus, frequencyWx, frequencyWh, frequencyWy);
      const slots = slotRegions.map((slot, k): TraceSlot => {
        const { counts, depth, depthRows } = perSlot[k];
        setFields(slot.record, { counts, depth, depthBuf: depthRows });
        return {
          pointer: slot.record,
          probabilities: new Float64Array(memory.buffer, slot.probs, BYTE_VALUES),
          counts: new Uint32Array(memory.buffer, counts, 3 * T),
          depth: f32(depth, dmax + 1),
        };
      });
      return {
        Hp,
        slots: [slots[0], slots[1]],
        thresholdOrder,
        states: f32(statesPointer, Hp * stateRows),
        statesPointer,
        bytes: new Uint8Array(memory.buffer, bytesPointer, byteCount),
        bytesPointer,
        readPeakFactors(into: Float32Array): void {
          into.set(f32(rScaledMax, H), 0);
          const inputs = f32(rInputMax, BYTE_VALUES * Hp);
          const outputs = f32(rOutputMax, BYTE_VALUES * Hp);
          for (let c = 0; c < BYTE_VALUES; c++) {
            into.set(inputs.subarray(c * Hp, c * Hp + H), H + c * H);
            into.set(outputs.subarray(c * Hp, c * Hp + H), H + BYTE_VALUES * H + c * H);
          }
        },
        readFrequency(into: Uint32Array): void {
          const length = frequencyLength(H);
          if (into.length !== FT * length) throw new RangeError(`readFrequency: ${into.length} values for ${FT} τ of ${length} patterns`);
          const u32 = (offset: number, count: number): Uint32Array => new Uint32Array(memory.buffer, offset, count);
          for (let k = 0; k < FT; k++) {
            const out = into.subarray(k * length, (k + 1) * length);
            const wx = u32(frequencyWx + 4 * k * BYTE_VALUES * Hp, BYTE_VALUES * Hp);
            const wy = u32(frequencyWy + 4 * k * BYTE_VALUES * Hp, BYTE_VALUES * Hp);
            const firsts = u32(frequencyWh + 4 * k * H * Hp, H * Hp);
            for (let c = 0; c < BYTE_VALUES; c++) {
              out.set(wx.subarray(c * Hp, c * Hp + H), c * H);
              out.set(wy.subarray(c * Hp, c * Hp + H), BYTE_VALUES * H + H * H + c * H);
            }
            // Sorted index s of row i is active at the positions whose first active index is ≤ s.
            for (let i = 0; i < H; i++) {
              let active = 0;
              for (let s = 0; s < H; s++) {
                active += firsts[i * Hp + s];
                out[BYTE_VALUES * H + i * H + whOrder[i * H + s]] = active;
              }
            }
          }
        },
      };
    },
  };
}
