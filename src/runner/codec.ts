import { CLASS_COUNT, peakFactorLength, type RangeResult } from '../engine/index.js';

/**
 * A RangeResult packed into one ArrayBuffer, so a worker can transfer it to the
 * orchestrator without copying. Sections are ordered by element size so each
 * view is aligned: surprisal (f64), counts (u32), depth mass and peak factors
 * (f32), targets (u8).
 */
interface Layout {
  readonly surprisal: number;
  readonly counts: number;
  readonly depthMass: number;
  readonly peakFactors: number;
  readonly targets: number;
  readonly bytes: number;
}

export interface RangeShape {
  readonly count: number;
  readonly thresholds: number;
  readonly dmax: number;
  readonly hidden: number;
}

function layout({ count, thresholds, dmax, hidden }: RangeShape): Layout {
  const surprisal = 0;
  const counts = surprisal + 8 * count;
  const depthMass = counts + 4 * count * thresholds * CLASS_COUNT;
  const peakFactors = depthMass + 4 * count * (dmax + 1);
  const targets = peakFactors + 4 * peakFactorLength(hidden);
  return { surprisal, counts, depthMass, peakFactors, targets, bytes: targets + count };
}

export function packRange(range: RangeResult, shape: RangeShape): ArrayBuffer {
  const at = layout(shape);
  const buffer = new ArrayBuffer(at.bytes);
  new Float64Array(buffer, at.surprisal, range.surprisal.length).set(range.surprisal);
  new Uint32Array(buffer, at.counts, range.counts.length).set(range.counts);
  new Float32Array(buffer, at.depthMass, range.depthMass.length).set(range.depthMass);
  new Float32Array(buffer, at.peakFactors, range.peakFactors.length).set(range.peakFactors);
  new Uint8Array(buffer, at.targets, range.targets.length).set(range.targets);
  return buffer;
}

export function unpackRange(buffer: ArrayBuffer, start: number, shape: RangeShape): RangeResult {
  const at = layout(shape);
  if (buffer.byteLength !== at.bytes) throw new Error(`packed range of ${buffer.byteLength} bytes, expected ${at.bytes}`);
  const { count, thresholds, dmax, hidden } = shape;
  return {
    start,
    count,
    surprisal: new Float64Array(buffer, at.surprisal, count),
    counts: new Uint32Array(buffer, at.counts, count * thresholds * CLASS_COUNT),
    depthMass: new Float32Array(buffer, at.depthMass, count * (dmax + 1)),
    peakFactors: new Float32Array(buffer, at.peakFactors, peakFactorLength(hidden)),
    targets: new Uint8Array(buffer, at.targets, count),
  };
}
