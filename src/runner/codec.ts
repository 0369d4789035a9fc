import { BYTE_VALUES, CLASS_COUNT, frequencyLength } from '../engine/index.js';
import { CorruptStoreError } from '../errors.js';
import type { ShardResult } from '../store/index.js';
import { frequencyRowCount } from '../store/frequencyLayout.js';
import { shardRowsOf, type ShardCounts, type ShardRows } from '../store/shardRows.js';

/**
 * A shard's results packed into one ArrayBuffer, so a worker can transfer it to
 * the orchestrator without copying. Sections are ordered by element size so each
 * view is aligned: 8-byte (surprisal, total mass, depth sums, surprisal sum),
 * 4-byte (counts, peak offsets, depth positions, depth curves, pattern peaks),
 * then the target bytes. Depth curves travel only when the run keeps them; the
 * range's peak factors never do (the pattern peaks made from them do).
 *
 * The shard's rows travel made (ShardRows, made in the worker so that the
 * writer's thread only inserts them): a header of two uint32 (the histograms'
 * entries and the encoded bytes, which the shape does not give) leads the
 * buffer; per τ the count block's three byte lengths, its sums and its
 * histogram (n, positions); per frequency τ and row the byte length of its code
 * point array (0: none active); then every encoded array, in that order.
 */
export interface ShardShape {
  readonly count: number;
  readonly thresholds: number;
  readonly dmax: number;
  readonly hidden: number;
  readonly depthCurves: boolean;
  /** The run's burn-in (0 when absent): not packed, it tells the unpacked range how deep each position reaches. */
  readonly burnIn?: number;
  /** How many τ its activation frequencies are counted at (FREQUENCY_TAUS; 0: none travel). */
  readonly frequencies?: number;
}

type View = Float64Array | Uint32Array | Int32Array | Float32Array | Uint8Array;
/** A typed array class, as a view on the shared buffer. */
interface ViewKind {
  readonly BYTES_PER_ELEMENT: number;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): View;
}
type Section = readonly [name: SectionName, kind: ViewKind, length: number];
type SectionName =
  | 'surprisal'
  | 'massTotal'
  | 'depthSums'
  | 'surprisalSum'
  | 'counts'
  | 'peakDepth'
  | 'depthPositions'
  | 'depthMass'
  | 'peaksWx'
  | 'peaksWh'
  | 'peaksWy'
  | 'frequency'
  | 'header'
  | 'countSums'
  | 'blockBytes'
  | 'histogramLengths'
  | 'frequencyBytes'
  | 'histogramN'
  | 'histogramPositions'
  | 'encoded'
  | 'targets';

/** What the shape does not give of a packed shard's size: read from its header. */
interface Variable {
  readonly histogramEntries: number;
  readonly encodedBytes: number;
}

function sections({ count, thresholds, dmax, hidden, depthCurves, frequencies = 0 }: ShardShape, variable: Variable): readonly Section[] {
  const slots = dmax + 1;
  return [
    ['header', Uint32Array, 2],
    ['surprisal', Float64Array, count],
    ['massTotal', Float64Array, count],
    ['depthSums', Float64Array, 2 * slots],
    ['surprisalSum', Float64Array, 2],
    ['countSums', Float64Array, thresholds * CLASS_COUNT],
    ['counts', Uint32Array, count * thresholds * CLASS_COUNT],
    ['peakDepth', Int32Array, count],
    ['depthPositions', Uint32Array, slots],
    ['depthMass', Float32Array, depthCurves ? count * slots : 0],
    ['peaksWx', Float32Array, hidden * BYTE_VALUES],
    ['peaksWh', Float32Array, hidden * hidden],
    ['peaksWy', Float32Array, BYTE_VALUES * hidden],
    ['frequency', Uint32Array, frequencies * frequencyLength(hidden)],
    ['blockBytes', Uint32Array, thresholds * CLASS_COUNT],
    ['histogramLengths', Uint32Array, thresholds],
    ['frequencyBytes', Uint32Array, frequencies * frequencyRowCount(hidden)],
    ['histogramN', Uint32Array, variable.histogramEntries],
    ['histogramPositions', Uint32Array, variable.histogramEntries],
    ['encoded', Uint8Array, variable.encodedBytes],
    ['targets', Uint8Array, count],
  ];
}

type Views = { [name in SectionName]: View };

function layout(shape: ShardShape, variable: Variable): { bytes: number; views: (buffer: ArrayBufferLike) => Views } {
  let bytes = 0;
  const at: [SectionName, Section[1], number, number][] = [];
  for (const [name, kind, length] of sections(shape, variable)) {
    at.push([name, kind, bytes, length]);
    bytes += kind.BYTES_PER_ELEMENT * length;
  }
  return {
    bytes,
    views: (target) => Object.fromEntries(at.map(([name, kind, offset, length]) => [name, new kind(target, offset, length)])) as Views,
  };
}

/**
 * The shard in one new ArrayBuffer, which the worker's result transfers to the
 * orchestrator (about 0.9 MB at H = 128, most of it the pattern peaks). Not a new
 * SharedArrayBuffer per shard: V8 collects those lazily (their memory does not
 * press its collector), so a long run's shards piled up in both threads, hundreds
 * of MB per million positions; an ArrayBuffer's memory goes with the next
 * collection. A pool's threads pack into its reused slots instead (packShardInto).
 */
export function packShard(shard: Omit<ShardResult, 'seconds' | 'rows'>, shape: ShardShape): ArrayBuffer {
  const packing = packingOf(shard, shape);
  const buffer = new ArrayBuffer(packing.bytes);
  packing.into(buffer);
  return buffer;
}

/** A packed shard: the first `bytes` of `packed`. */
export interface PackedShard {
  readonly packed: ArrayBuffer | SharedArrayBuffer;
  readonly bytes: number;
}

/**
 * The shard packed into `slot` (resultSlots.ts) if it fits, else into a new
 * ArrayBuffer as packShard does. The slot's bytes are zeroed first, so they are
 * what packShard's new buffer would hold.
 */
export function packShardInto(shard: Omit<ShardResult, 'seconds' | 'rows'>, shape: ShardShape, slot: SharedArrayBuffer | undefined): PackedShard {
  const packing = packingOf(shard, shape);
  if (slot === undefined || packing.bytes > slot.byteLength) {
    const buffer = new ArrayBuffer(packing.bytes);
    packing.into(buffer);
    return { packed: buffer, bytes: packing.bytes };
  }
  new Uint8Array(slot, 0, packing.bytes).fill(0);
  packing.into(slot);
  return { packed: slot, bytes: packing.bytes };
}

/** The shard's size packed, and the step that packs it into a buffer of at least that size. */
function packingOf(shard: Omit<ShardResult, 'seconds' | 'rows'>, shape: ShardShape): { bytes: number; into: (buffer: ArrayBufferLike) => void } {
  const rows = shardRowsOf(shard.range, shape.thresholds, shape.dmax, shape.hidden);
  const encoded = [...rows.counts.flatMap(({ block }) => [block.n_x, block.n_h, block.n_y]), ...rows.frequencies.flat().filter((row) => row !== null)];
  const variable = {
    histogramEntries: rows.counts.reduce((sum, counts) => sum + counts.n.length, 0),
    encodedBytes: encoded.reduce((sum, array) => sum + array.byteLength, 0),
  };
  const { bytes, views } = layout(shape, variable);
  return {
    bytes,
    into: (buffer) => {
      const v = views(buffer);
      const { range, summary, peaks } = shard;
      v.header.set([variable.histogramEntries, variable.encodedBytes]);
      v.surprisal.set(range.surprisal);
      v.massTotal.set(summary.massTotal);
      v.depthSums.set(summary.depthSums);
      v.surprisalSum.set(summary.surprisalSum);
      v.counts.set(range.counts);
      v.peakDepth.set(summary.peakDepth);
      v.depthPositions.set(summary.depthPositions);
      if (shape.depthCurves) v.depthMass.set(range.depthMass);
      v.peaksWx.set(peaks.wx);
      v.peaksWh.set(peaks.wh);
      v.peaksWy.set(peaks.wy);
      if ((shape.frequencies ?? 0) > 0) {
        if (range.frequency?.length !== v.frequency.length) throw new RangeError(`packShard: ${range.frequency?.length ?? 0} frequencies, expected ${v.frequency.length}`);
        v.frequency.set(range.frequency);
      }
      packRows(rows, v, encoded);
      v.targets.set(range.targets);
    },
  };
}

/** The shard's rows into their sections (`encoded`: its arrays in the order they travel). */
function packRows(rows: ShardRows, v: Views, encoded: readonly Uint8Array[]): void {
  let entry = 0;
  rows.counts.forEach(({ block, sums, n, positions }, k) => {
    v.blockBytes.set([block.n_x.byteLength, block.n_h.byteLength, block.n_y.byteLength], CLASS_COUNT * k);
    v.countSums.set(sums, CLASS_COUNT * k);
    v.histogramLengths[k] = n.length;
    v.histogramN.set(n, entry);
    v.histogramPositions.set(positions, entry);
    entry += n.length;
  });
  rows.frequencies.flat().forEach((row, g) => {
    v.frequencyBytes[g] = row === null ? 0 : row.byteLength;
  });
  let at = 0;
  for (const array of encoded) {
    v.encoded.set(array, at);
    at += array.byteLength;
  }
}

/**
 * The shard as views on the first `packedBytes` of `buffer` (all of it unless it is
 * a pool's reused slot, whose views hold only until the slot is released);
 * `seconds` is the worker thread's CPU time for it (stored as the shard's seconds).
 */
export function unpackShard(buffer: ArrayBufferLike, start: number, shape: ShardShape, seconds: number, packedBytes = buffer.byteLength): ShardResult {
  if (packedBytes > buffer.byteLength) throw new CorruptStoreError(`a worker returned a shard of ${packedBytes} bytes for positions ${start}+${shape.count} in a buffer of ${buffer.byteLength}`);
  const header = packedBytes >= 8 ? new Uint32Array(buffer, 0, 2) : Uint32Array.of(0, 0);
  const { bytes, views } = layout(shape, { histogramEntries: header[0], encodedBytes: header[1] });
  if (packedBytes !== bytes) {
    throw new CorruptStoreError(`a worker returned a shard of ${packedBytes} bytes for positions ${start}+${shape.count}, expected ${bytes}`);
  }
  const v = views(buffer);
  return {
    range: {
      start,
      count: shape.count,
      ...((shape.burnIn ?? 0) > 0 ? { burnIn: shape.burnIn } : {}),
      targets: v.targets as Uint8Array,
      surprisal: v.surprisal as Float64Array,
      counts: v.counts as Uint32Array,
      depthMass: v.depthMass as Float32Array,
      peakFactors: new Float32Array(0),
      ...((shape.frequencies ?? 0) > 0 ? { frequency: v.frequency as Uint32Array } : {}),
    },
    summary: {
      massTotal: v.massTotal as Float64Array,
      peakDepth: v.peakDepth as Int32Array,
      depthPositions: v.depthPositions as Uint32Array,
      depthSums: v.depthSums as Float64Array,
      surprisalSum: v.surprisalSum as Float64Array,
    },
    peaks: { wx: v.peaksWx as Float32Array, wh: v.peaksWh as Float32Array, wy: v.peaksWy as Float32Array },
    seconds,
    rows: unpackRows(v, shape, start),
  };
}

/** The shard's rows as views on its buffer (BLOBs as Buffers, which better-sqlite3 binds), checked to add up to its sections. */
function unpackRows(v: Views, shape: ShardShape, start: number): ShardRows {
  const refuse = (what: string): CorruptStoreError => new CorruptStoreError(`a worker returned a shard for positions ${start}+${shape.count} whose ${what}`);
  const encoded = new EncodedArrays(v.encoded as Uint8Array, refuse);
  let entry = 0;
  const counts: ShardCounts[] = [];
  for (let k = 0; k < shape.thresholds; k++) {
    const length = v.histogramLengths[k];
    if (entry + length > v.histogramN.length) throw refuse(`histograms run past their ${v.histogramN.length} entries`);
    const [x, h, y] = v.blockBytes.subarray(CLASS_COUNT * k, CLASS_COUNT * (k + 1));
    const sums = v.countSums.subarray(CLASS_COUNT * k, CLASS_COUNT * (k + 1));
    counts.push({
      block: { n_x: encoded.next(x), n_h: encoded.next(h), n_y: encoded.next(y) },
      sums: [sums[0], sums[1], sums[2]],
      n: (v.histogramN as Uint32Array).subarray(entry, entry + length),
      positions: (v.histogramPositions as Uint32Array).subarray(entry, entry + length),
    });
    entry += length;
  }
  const rowCount = frequencyRowCount(shape.hidden);
  const frequencies: (Buffer | null)[][] = [];
  for (let f = 0; f < (shape.frequencies ?? 0); f++) {
    const rows: (Buffer | null)[] = [];
    for (let g = f * rowCount; g < (f + 1) * rowCount; g++) rows.push(v.frequencyBytes[g] === 0 ? null : encoded.next(v.frequencyBytes[g]));
    frequencies.push(rows);
  }
  if (entry !== v.histogramN.length || !encoded.allRead()) {
    throw refuse(`sections do not add up (${entry} of ${v.histogramN.length} histogram entries, ${encoded.read} of ${encoded.bytes.length} encoded bytes)`);
  }
  return { counts, frequencies };
}

/**
 * The shard's encoded arrays, one after another. A class, not closures made per
 * shard: V8 drops a closure's optimized code with the closure, and compiled the
 * loops that called it again every few shards (test/jit.test.ts).
 */
class EncodedArrays {
  /** Bytes handed out. */
  read = 0;

  constructor(
    readonly bytes: Uint8Array,
    private readonly refuse: (what: string) => CorruptStoreError,
  ) {}

  /** The next array, of `length` bytes, as a view (a Buffer, which better-sqlite3 binds). */
  next(length: number): Buffer {
    if (this.read + length > this.bytes.length) throw this.refuse(`encoded arrays run past their ${this.bytes.length} bytes`);
    const array = Buffer.from(this.bytes.buffer, this.bytes.byteOffset + this.read, length);
    this.read += length;
    return array;
  }

  allRead(): boolean {
    return this.read === this.bytes.length;
  }
}
