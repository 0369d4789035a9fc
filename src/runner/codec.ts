import { BYTE_VALUES, CLASS_COUNT, frequencyLength } from '../engine/index.js';
import { CorruptStoreError } from '../errors.js';
import type { ShardResult } from '../store/index.js';

/**
 * A shard's results packed into one ArrayBuffer, so a worker can transfer it to
 * the orchestrator without copying. Sections are ordered by element size so each
 * view is aligned: 8-byte (surprisal, total mass, depth sums, surprisal sum),
 * 4-byte (counts, peak offsets, depth positions, depth curves, pattern peaks),
 * then the target bytes. Depth curves travel only when the run keeps them; the
 * range's peak factors never do (the pattern peaks made from them do).
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
  new (buffer: ArrayBuffer, byteOffset: number, length: number): View;
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
  | 'targets';

function sections({ count, thresholds, dmax, hidden, depthCurves, frequencies = 0 }: ShardShape): readonly Section[] {
  const slots = dmax + 1;
  return [
    ['surprisal', Float64Array, count],
    ['massTotal', Float64Array, count],
    ['depthSums', Float64Array, 2 * slots],
    ['surprisalSum', Float64Array, 2],
    ['counts', Uint32Array, count * thresholds * CLASS_COUNT],
    ['peakDepth', Int32Array, count],
    ['depthPositions', Uint32Array, slots],
    ['depthMass', Float32Array, depthCurves ? count * slots : 0],
    ['peaksWx', Float32Array, hidden * BYTE_VALUES],
    ['peaksWh', Float32Array, hidden * hidden],
    ['peaksWy', Float32Array, BYTE_VALUES * hidden],
    ['frequency', Uint32Array, frequencies * frequencyLength(hidden)],
    ['targets', Uint8Array, count],
  ];
}

type Views = { [name in SectionName]: View };

function layout(shape: ShardShape): { bytes: number; views: (buffer: ArrayBuffer) => Views } {
  let bytes = 0;
  const at: [SectionName, Section[1], number, number][] = [];
  for (const [name, kind, length] of sections(shape)) {
    at.push([name, kind, bytes, length]);
    bytes += kind.BYTES_PER_ELEMENT * length;
  }
  return {
    bytes,
    views: (target) => Object.fromEntries(at.map(([name, kind, offset, length]) => [name, new kind(target, offset, length)])) as Views,
  };
}

/**
 * The shard in one ArrayBuffer, which the worker's result carries to the
 * orchestrator (a copy of about 0.5 MB, against 0.1 s of tracing). Not a
 * SharedArrayBuffer: V8 collects those lazily (their memory does not press its
 * collector), so a long run's shards piled up in both threads, hundreds of MB
 * per million positions; an ArrayBuffer's memory goes with the next collection.
 */
export function packShard(shard: Omit<ShardResult, 'seconds'>, shape: ShardShape): ArrayBuffer {
  const { bytes, views } = layout(shape);
  const buffer = new ArrayBuffer(bytes);
  const v = views(buffer);
  const { range, summary, peaks } = shard;
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
  v.targets.set(range.targets);
  return buffer;
}

/** The shard as views on `buffer`; `seconds` is the worker thread's CPU time for it (stored as the shard's seconds). */
export function unpackShard(buffer: ArrayBuffer, start: number, shape: ShardShape, seconds: number): ShardResult {
  const { bytes, views } = layout(shape);
  if (buffer.byteLength !== bytes) {
    throw new CorruptStoreError(`a worker returned a shard of ${buffer.byteLength} bytes for positions ${start}+${shape.count}, expected ${bytes}`);
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
  };
}
