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

/** A slot's regions fixed with the model (trace.wat, "@slot"); counts, depth and depthBuf are laid per range. */
interface SlotRegions {
  readonly record: number;
  readonly b: number;
  /** Splatted: scaled[i] in four lanes. */
  readonly scaled: number;
  readonly scaledMax: number;
  readonly inputMax: number;
  readonly seen: number;
  readonly seenList: number;
  readonly nxBuf: number;
  readonly probs: number;
}

/** The model's regions of the kernel's memory, in trace.wat's layouts; the ranges' regions start at `end`. */
interface ModelRegions {
  readonly wh: number;
  readonly whSorted: number;
  readonly wyT: number;
  readonly wy: number;
  readonly by: number;
  readonly wxAbs: number;
  readonly rScaledMax: number;
  readonly rInputMax: number;
  readonly rOutputMax: number;
  readonly slots: readonly SlotRegions[];
  readonly end: number;
}

/** The regions of one range (prepareRange), past the model's. */
interface RangeRegions {
  readonly taus: number;
  readonly perSlot: readonly { readonly counts: number; readonly depth: number; readonly depthRows: number }[];
  readonly statesPointer: number;
  readonly stateRows: number;
  readonly bytesPointer: number;
  readonly byteCount: number;
  readonly frequencyTaus: number;
  readonly frequencyWx: number;
  readonly frequencyWh: number;
  readonly frequencyWy: number;
  readonly end: number;
}

/** The model's regions for hidden size H (rows padded to Hp), from offset 0. */
function modelRegionsOf(H: number, Hp: number): ModelRegions {
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
  const slots = [0, 1].map((): SlotRegions => ({
    record: regions.take(TRACE_SLOT_BYTES),
    b: regions.take(4 * Hp),
    scaled: regions.take(16 * Hp),
    scaledMax: regions.take(4 * Hp),
    inputMax: regions.take(4 * BYTE_VALUES * Hp),
    seen: regions.take(BYTE_VALUES),
    seenList: regions.take(4 * BYTE_VALUES),
    nxBuf: regions.take(4 * BYTE_VALUES * Hp),
    probs: regions.take(8 * BYTE_VALUES),
  }));
  return { wh, whSorted, wyT, wy, by, wxAbs, rScaledMax, rInputMax, rOutputMax, slots, end: regions.end };
}

/** A range's regions from `modelEnd`: τ padded to `paddedT`, FT frequency τ. */
function rangeRegionsOf(modelEnd: number, H: number, Hp: number, paddedT: number, FT: number, dmax: number, chunkPositions: number): RangeRegions {
  const range = new Regions();
  range.end = modelEnd;
  const taus = range.take(4 * paddedT);
  // Depth masses are summed four offsets at a time: room for three more, and rows for them.
  const perSlot = [0, 1].map(() => ({
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
  return { taus, perSlot, statesPointer, stateRows, bytesPointer, byteCount, frequencyTaus, frequencyWx, frequencyWh, frequencyWy, end: range.end };
}

/**
 * whOrder[i·H + s]: the j of the s-th smallest |Wh[i][j]|. Ties have one |w|, so one
 * product, active together: which of them goes first does not change a count.
 */
function whOrderOf(model: Model): Int32Array {
  const H = model.hidden;
  const whOrder = new Int32Array(H * H);
  for (let i = 0; i < H; i++) {
    const row = model.wh.subarray(i * H, (i + 1) * H);
    const order = Array.from({ length: H }, (_, j) => j).sort((a, b) => Math.abs(row[a]) - Math.abs(row[b]) || a - b);
    whOrder.set(order, i * H);
  }
  return whOrder;
}

/** The kernel's τ order: the caller's indices of τ ascending (n_h stops at the first τ a row cannot exceed). */
function ascendingOrder(thresholds: Float32Array): Int32Array {
  return Int32Array.from(thresholds.keys()).sort((a, b) => thresholds[a] - thresholds[b] || a - b);
}

/** A trace kernel with its own copies of the model's weights in the layouts of trace.wat. */
export function createTraceKernel(model: Model): TraceKernel {
  return new WasmTraceKernel(model);
}

/** createTraceKernel's kernel: one wasm instance, the model laid out once, the ranges' regions past it. */
class WasmTraceKernel implements TraceKernel {
  readonly exports: TraceExports;
  readonly #memory: WebAssembly.Memory;
  readonly #H: number;
  readonly #Hp: number;
  readonly #model: ModelRegions;
  readonly #whOrder: Int32Array;

  constructor(model: Model) {
    this.#H = model.hidden;
    this.#Hp = Math.ceil(this.#H / 32) * 32;
    this.exports = new WebAssembly.Instance(traceModule()).exports as unknown as TraceExports;
    this.#memory = this.exports.memory;
    this.#model = modelRegionsOf(this.#H, this.#Hp);
    this.loadModel(model);
    this.#whOrder = whOrderOf(model);
    for (const slot of this.#model.slots) {
      const { b, scaled, scaledMax, inputMax, seen, seenList, nxBuf, probs } = slot;
      this.setFields(slot.record, { b, scaled, scaledMax, inputMax, seen, seenList, nxBuf, probs });
    }
  }

  /** A float32 view of the kernel's memory (its buffer changes when memory grows). */
  private f32(offset: number, length: number): Float32Array {
    return new Float32Array(this.#memory.buffer, offset, length);
  }

  /** Sets slot record fields (by their trace.wat names) to region offsets. */
  private setFields(record: number, fields: Partial<Record<keyof typeof TRACE_SLOT, number>>): void {
    const words = new Int32Array(this.#memory.buffer, record, TRACE_SLOT_BYTES / 4);
    for (const [name, value] of Object.entries(fields)) words[TRACE_SLOT[name as keyof typeof TRACE_SLOT] / 4] = value;
  }

  /** Copies the weights in, has `setup` and `layout` lay them out, and sorts each Wh row's |w| ascending (n_h counts by searching them). */
  private loadModel(model: Model): void {
    const H = this.#H;
    const regions = this.#model;
    // Row-major copies of Wh, Wy, Wx go past the model's regions, where the ranges' regions
    // go later: `layout` (trace.wat) lays them out from there.
    const rawWh = regions.end;
    const rawWy = rawWh + 4 * H * H;
    const rawWx = rawWy + 4 * BYTE_VALUES * H;
    ensureMemory(this.#memory, rawWx + 4 * H * BYTE_VALUES);
    this.f32(rawWh, H * H).set(model.wh.subarray(0, H * H));
    this.f32(rawWy, BYTE_VALUES * H).set(model.wy.subarray(0, BYTE_VALUES * H));
    this.f32(rawWx, H * BYTE_VALUES).set(model.wx.subarray(0, H * BYTE_VALUES));
    this.f32(regions.by, BYTE_VALUES).set(model.by);
    const first = regions.slots[0];
    this.exports.setup(H, this.#Hp, regions.wh, regions.whSorted, regions.wyT, regions.wy, regions.by, regions.wxAbs, regions.rScaledMax, regions.rInputMax, regions.rOutputMax,
      first.scaledMax, first.inputMax, first.b, first.scaled, first.probs, first.seen, first.seenList, first.nxBuf);
    this.exports.layout(rawWh, rawWy, rawWx);
    const whAbsSorted = this.f32(regions.whSorted, H * H);
    for (let i = 0; i < H; i++) whAbsSorted.subarray(i * H, (i + 1) * H).sort();
  }

  patternPeaks(peakFactors: Float32Array): { wx: Float32Array; wh: Float32Array; wy: Float32Array } {
    const H = this.#H;
    const factors = this.#model.end;
    const out = factors + 4 * peakFactors.length;
    const patterns = 2 * BYTE_VALUES * H + H * H;
    ensureMemory(this.#memory, out + 4 * patterns);
    this.f32(factors, peakFactors.length).set(peakFactors);
    this.exports.peaks(factors, out);
    return {
      wx: this.f32(out, H * BYTE_VALUES).slice(),
      wh: this.f32(out + 4 * H * BYTE_VALUES, H * H).slice(),
      wy: this.f32(out + 4 * (H * BYTE_VALUES + H * H), BYTE_VALUES * H).slice(),
    };
  }

  summarizeDepths(depthMass: Float32Array, start: number, count: number, dmax: number): DepthSummary {
    const memory = this.#memory;
    const slots = dmax + 1;
    const chunk = Math.max(1, Math.min(count, Math.floor(SUMMARY_CHUNK_FLOATS / slots)));
    const scratch = new Regions();
    scratch.end = this.#model.end;
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
      this.f32(masses, n * slots).set(depthMass.subarray(first * slots, (first + n) * slots));
      this.exports.summarize(masses, n, slots, start + first, dmax, accs, positions, total, totals, peaks);
      massTotal.set(new Float64Array(memory.buffer, totals, n), first);
      peakDepth.set(new Int32Array(memory.buffer, peaks, n), first);
    }
    return { massTotal, peakDepth, depthPositions: new Uint32Array(memory.buffer, positions, slots).slice(), depthPartials: this.depthPartials(accs, slots) };
  }

  /** Per offset d, the partials of the exact-sum accumulator at `accs` + d · ACCUMULATOR_BYTES. */
  private depthPartials(accs: number, slots: number): Float64Array[] {
    const memory = this.#memory;
    const accumulatorWords = new Int32Array(memory.buffer, accs, (ACCUMULATOR_BYTES / 4) * slots);
    return Array.from({ length: slots }, (_, d) => {
      const partialCount = accumulatorWords[(ACCUMULATOR_BYTES / 4) * d]; // each accumulator starts with its count
      return new Float64Array(memory.buffer, accs + ACCUMULATOR_BYTES * d + 8, partialCount).slice();
    });
  }

  prepareRange(thresholds: Float32Array, dmax: number, chunkPositions: number, rule: RuleName, frequencyThresholds = new Float32Array(0)): TraceRangeView {
    const T = thresholds.length;
    // n_h searches four τ at a time: τ padded with +Infinity (never exceeded), counts with room for them.
    const paddedT = Math.ceil(T / 4) * 4;
    const range = rangeRegionsOf(this.#model.end, this.#H, this.#Hp, paddedT, frequencyThresholds.length, dmax, chunkPositions);
    ensureMemory(this.#memory, range.end);
    this.clearRange(range);
    const thresholdOrder = ascendingOrder(thresholds);
    this.f32(range.taus, paddedT).fill(Infinity).set(Float32Array.from(thresholdOrder, (k) => thresholds[k]));
    this.exports.setupRange(T, range.taus, KERNEL_RULE[rule]);
    // The frequency counters were cleared with the range's regions.
    this.f32(range.frequencyTaus, frequencyThresholds.length).set(frequencyThresholds);
    this.exports.setupFrequency(frequencyThresholds.length, range.frequencyTaus, range.frequencyWx, range.frequencyWh, range.frequencyWy);
    return this.rangeView(range, T, frequencyThresholds.length, dmax, thresholdOrder);
  }

  /** Zeroes the range's regions and the running maxima the kernel keeps across a range. */
  private clearRange(range: RangeRegions): void {
    const { end: modelEnd, rScaledMax, rInputMax, rOutputMax, slots } = this.#model;
    const Hp = this.#Hp;
    new Uint8Array(this.#memory.buffer, modelEnd, range.end - modelEnd).fill(0);
    this.f32(rScaledMax, Hp).fill(0);
    // Left clear by every finished position; cleared again in case a range was abandoned midway.
    for (const slot of slots) {
      this.f32(slot.inputMax, BYTE_VALUES * Hp).fill(0);
      new Uint8Array(this.#memory.buffer, slot.seen, BYTE_VALUES).fill(0);
    }
    this.f32(rInputMax, BYTE_VALUES * Hp).fill(0);
    this.f32(rOutputMax, BYTE_VALUES * Hp).fill(0);
  }

  /** Points the slots' records at the range's counts and depths and returns the range's views. */
  private rangeView(range: RangeRegions, T: number, FT: number, dmax: number, thresholdOrder: Int32Array): TraceRangeView {
    const memory = this.#memory;
    const slots = this.#model.slots.map((slot, k): TraceSlot => {
      const { counts, depth, depthRows } = range.perSlot[k];
      this.setFields(slot.record, { counts, depth, depthBuf: depthRows });
      return {
        pointer: slot.record,
        probabilities: new Float64Array(memory.buffer, slot.probs, BYTE_VALUES),
        counts: new Uint32Array(memory.buffer, counts, 3 * T),
        depth: this.f32(depth, dmax + 1),
      };
    });
    return {
      Hp: this.#Hp,
      slots: [slots[0], slots[1]],
      thresholdOrder,
      states: this.f32(range.statesPointer, this.#Hp * range.stateRows),
      statesPointer: range.statesPointer,
      bytes: new Uint8Array(memory.buffer, range.bytesPointer, range.byteCount),
      bytesPointer: range.bytesPointer,
      readPeakFactors: (into) => this.readPeakFactors(into),
      readFrequency: (into) => this.readFrequency(range, FT, into),
    };
  }

  /** The range's peak factors in the layout of peakFactorLength. */
  private readPeakFactors(into: Float32Array): void {
    const H = this.#H;
    const Hp = this.#Hp;
    into.set(this.f32(this.#model.rScaledMax, H), 0);
    const inputs = this.f32(this.#model.rInputMax, BYTE_VALUES * Hp);
    const outputs = this.f32(this.#model.rOutputMax, BYTE_VALUES * Hp);
    for (let c = 0; c < BYTE_VALUES; c++) {
      into.set(inputs.subarray(c * Hp, c * Hp + H), H + c * H);
      into.set(outputs.subarray(c * Hp, c * Hp + H), H + BYTE_VALUES * H + c * H);
    }
  }

  /** The range's activation frequencies, per frequency τ in the caller's order, in the layout of frequencyLength. */
  private readFrequency(range: RangeRegions, FT: number, into: Uint32Array): void {
    const H = this.#H;
    const Hp = this.#Hp;
    const length = frequencyLength(H);
    if (into.length !== FT * length) throw new RangeError(`readFrequency: ${into.length} values for ${FT} τ of ${length} patterns`);
    const u32 = (offset: number, count: number): Uint32Array => new Uint32Array(this.#memory.buffer, offset, count);
    for (let k = 0; k < FT; k++) {
      const out = into.subarray(k * length, (k + 1) * length);
      const wx = u32(range.frequencyWx + 4 * k * BYTE_VALUES * Hp, BYTE_VALUES * Hp);
      const wy = u32(range.frequencyWy + 4 * k * BYTE_VALUES * Hp, BYTE_VALUES * Hp);
      for (let c = 0; c < BYTE_VALUES; c++) {
        out.set(wx.subarray(c * Hp, c * Hp + H), c * H);
        out.set(wy.subarray(c * Hp, c * Hp + H), BYTE_VALUES * H + H * H + c * H);
      }
      whFrequency(out, u32(range.frequencyWh + 4 * k * H * Hp, H * Hp), this.#whOrder, H, Hp);
    }
  }
}

/**
 * Wh's activation frequencies into `out` (frequencyLength's layout) from the kernel's
 * per-row counts of first active sorted index: sorted index s of row i is active at the
 * positions whose first active index is ≤ s.
 */
function whFrequency(out: Uint32Array, firsts: Uint32Array, whOrder: Int32Array, H: number, Hp: number): void {
  for (let i = 0; i < H; i++) {
    let active = 0;
    for (let s = 0; s < H; s++) {
      active += firsts[i * Hp + s];
      out[BYTE_VALUES * H + i * H + whOrder[i * H + s]] = active;
    }
  }
}
