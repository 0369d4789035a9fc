import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BYTE_VALUES, ExactSum, exactSum } from '../src/engine/index.js';
import { packShard, unpackShard, type ShardShape } from '../src/runner/codec.js';
import { appendTotals, blockStat, decodeCountBlock, encodeCountBlock } from '../src/store/countBlocks.js';

/** A shard of recognisable values in every field. */
function fakeShard(shape: ShardShape) {
  const { count, thresholds, dmax, hidden } = shape;
  const fill = <T extends Float64Array | Float32Array | Uint32Array | Int32Array | Uint8Array>(values: T, seed: number): T => values.map((_, k) => (k * 7 + seed) % 251) as T;
  return {
    range: {
      start: 100,
      count,
      targets: fill(new Uint8Array(count), 1),
      surprisal: fill(new Float64Array(count), 2).map((v) => v / 3),
      counts: fill(new Uint32Array(count * thresholds * 3), 3),
      depthMass: fill(new Float32Array(count * (dmax + 1)), 4),
      peakFactors: new Float32Array(0),
    },
    summary: {
      massTotal: fill(new Float64Array(count), 5),
      peakDepth: fill(new Int32Array(count), 6).map((v) => v - 100),
      depthPositions: fill(new Uint32Array(dmax + 1), 7),
      depthSums: fill(new Float64Array(2 * (dmax + 1)), 8),
      surprisalSum: Float64Array.of(1.5, -2e-17),
    },
    peaks: { wx: fill(new Float32Array(hidden * BYTE_VALUES), 9), wh: fill(new Float32Array(hidden * hidden), 10), wy: fill(new Float32Array(BYTE_VALUES * hidden), 11) },
  };
}

describe('packShard / unpackShard', () => {
  for (const depthCurves of [false, true]) {
    test(`round-trips every field${depthCurves ? ', depth curves included' : ', depth curves left out'}`, () => {
      const shape: ShardShape = { count: 7, thresholds: 3, dmax: 4, hidden: 5, depthCurves };
      const original = fakeShard(shape);
      const unpacked = unpackShard(packShard(original, shape), 100, shape, 0.25);
      assert.equal(unpacked.seconds, 0.25);
      assert.deepEqual(unpacked.summary, original.summary);
      assert.deepEqual(unpacked.peaks, original.peaks);
      const { depthMass, ...rest } = unpacked.range;
      const { depthMass: originalDepth, ...originalRest } = original.range;
      assert.deepEqual(rest, originalRest);
      assert.deepEqual(depthMass, depthCurves ? originalDepth : new Float32Array(0));
    });
  }

  test('refuses a buffer of the wrong size', () => {
    const shape: ShardShape = { count: 3, thresholds: 2, dmax: 1, hidden: 2, depthCurves: false };
    const packed = packShard(fakeShard(shape), shape);
    assert.throws(() => unpackShard(packed, 0, { ...shape, thresholds: 3 }, 0), /shard of \d+ bytes for positions 0\+3, expected \d+/);
  });
});

describe('ExactSum', () => {
  /** The exact sum by rational arithmetic: every double is an integer multiple of 2⁻¹⁰⁷⁴. */
  function referenceSum(values: readonly number[]): number {
    const scale = 1074n;
    const toBig = (x: number): bigint => {
      if (x === 0) return 0n;
      const view = new DataView(new ArrayBuffer(8));
      view.setFloat64(0, x);
      const bits = view.getBigUint64(0);
      const exponent = Number((bits >> 52n) & 0x7ffn);
      const mantissa = (bits & ((1n << 52n) - 1n)) | (exponent === 0 ? 0n : 1n << 52n);
      const shift = BigInt(Math.max(exponent, 1) - 1075) + scale;
      return (x < 0 ? -1n : 1n) * (mantissa << shift);
    };
    const total = values.reduce((sum, x) => sum + toBig(x), 0n);
    // Round to nearest by parsing the exact decimal expansion.
    const negative = total < 0n;
    const magnitude = negative ? -total : total;
    const whole = magnitude >> scale;
    const fraction = magnitude - (whole << scale);
    const digits = ((fraction * 10n ** 400n) >> scale).toString().padStart(400, '0');
    return (negative ? -1 : 1) * Number(`${whole}.${digits}`);
  }

  test('sums float32 masses exactly, in any order and any split into partial sums', () => {
    let state = 12345;
    const random = (): number => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      return state / 2 ** 32;
    };
    for (let trial = 0; trial < 40; trial++) {
      const values = Array.from({ length: 1 + Math.floor(random() * 300) }, () => Math.fround(random() * 10 ** (Math.floor(random() * 30) - 20)));
      const expected = referenceSum(values);
      assert.equal(exactSum(values), expected);
      assert.equal(exactSum([...values].reverse()), expected);
      // Split into pieces, each kept as (hi, lo), then summed again: what shards do.
      const cut = Math.floor(random() * values.length);
      const pieces = [values.slice(0, cut), values.slice(cut)].map((piece) => {
        const sum = new ExactSum();
        piece.forEach((value) => sum.add(value));
        return sum.split();
      });
      assert.equal(exactSum(pieces.flat()), expected);
    }
  });

  test('rounds half-way cases to even, as one rounding of the exact sum', () => {
    assert.equal(exactSum([1, 2 ** -53]), 1);
    assert.equal(exactSum([1, 2 ** -53, 2 ** -80]), 1 + 2 ** -52);
    assert.equal(exactSum([1e100, 1, -1e100]), 1);
  });
});

describe('encodeCountBlock / decodeCountBlock', () => {
  const countsOf = (count: number, largest: number): Uint32Array => Uint32Array.from({ length: 3 * count }, (_, k) => (k * 7919) % (largest + 1));

  test('2 bytes per count while every count fits in 16 bits, 4 bytes from 65,536 on; decoding gives the counts back', () => {
    for (const [largest, width] of [[0, 2], [65_535, 2], [65_536, 4], [16_777_216, 4]] as const) {
      const counts = countsOf(37, largest);
      counts[5] = largest; // the largest value occurs
      const blob = encodeCountBlock(counts);
      assert.equal(blob.byteLength, 3 * 37 * width, `largest ${largest}`);
      assert.deepEqual(Array.from(decodeCountBlock(blob, 37)), Array.from(counts), `largest ${largest}`);
    }
  });

  test('decodes a BLOB at an odd offset (a copy) and refuses a length that fits no width', () => {
    const counts = countsOf(10, 1000);
    const shifted = Buffer.alloc(1 + 60);
    encodeCountBlock(counts).copy(shifted, 1);
    assert.deepEqual(Array.from(decodeCountBlock(shifted.subarray(1), 10)), Array.from(counts));
    assert.throws(() => decodeCountBlock(Buffer.alloc(61), 10), /a count block of 61 bytes for 10 positions/);
  });

  test('blockStat and appendTotals summarize what the plain loops over positions say', () => {
    const counts = countsOf(50, 70_000);
    const decoded = decodeCountBlock(encodeCountBlock(counts), 50);
    const perClass = [0, 1, 2].map((cls) => counts.filter((_, k) => k % 3 === cls).reduce((a, b) => a + b, 0));
    const totals = Array.from({ length: 50 }, (_, p) => counts[3 * p] + counts[3 * p + 1] + counts[3 * p + 2]);
    assert.deepEqual(['sum_x', 'sum_h', 'sum_y'].map((stat) => blockStat(decoded, stat as 'sum_x')), perClass);
    assert.equal(blockStat(decoded, 'min_n'), Math.min(...totals));
    assert.equal(blockStat(decoded, 'max_n'), Math.max(...totals));
    const appended = [7];
    appendTotals(decoded, appended);
    assert.deepEqual(appended, [7, ...totals]);
  });
});
