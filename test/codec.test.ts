import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BYTE_VALUES, ExactSum, frequencyLength } from '../src/engine/index.js';
import { exactSum } from '../src/engine/exactSum.js';
import { packShard, packShardInto, unpackShard, type ShardShape } from '../src/runner/codec.js';
import { ResultSlots } from '../src/runner/resultSlots.js';
import Database from 'better-sqlite3';
import { codePointWidth, codePointsOf, decodeCodePoints, CODE_POINT_MAX_VALUE } from '../src/store/codePoints.js';
import { decodeCountBlock, encodeCountBlock, totalsOf } from '../src/store/countBlocks.js';
import { CountHistogram, decodeSteps, encodeSteps, LARGE_STEP } from '../src/store/histogram.js';
import { codePointSql, float32Sql, sequenceSql } from '../src/store/plainSql.js';

/** A shard of recognisable values in every field. */
function fakeShard(shape: ShardShape) {
  const { count, thresholds, dmax, hidden, frequencies = 0 } = shape;
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
      ...(frequencies > 0 ? { frequency: fill(new Uint32Array(frequencies * frequencyLength(hidden)), 12) } : {}),
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

  test('round-trips the activation frequencies of two τ; without them none travel', () => {
    const shape: ShardShape = { count: 7, thresholds: 3, dmax: 4, hidden: 5, depthCurves: false, frequencies: 2 };
    const original = fakeShard(shape);
    const packed = packShard(original, shape);
    const unpacked = unpackShard(packed, 100, shape, 0.25);
    assert.deepEqual(unpacked.range.frequency, original.range.frequency);
    assert.equal(unpacked.range.frequency?.length, 2 * frequencyLength(5));
    const without = packShard(fakeShard({ ...shape, frequencies: 0 }), { ...shape, frequencies: 0 });
    // Their counts, and per τ and row of H counts its code point array's length and the array (a row with any active).
    const rowBytes = (unpacked.rows?.frequencies.flat() ?? []).reduce((sum, row) => sum + (row?.byteLength ?? 0), 0);
    assert.equal(packed.byteLength - without.byteLength, 4 * 2 * frequencyLength(5) + 4 * 2 * (2 * BYTE_VALUES + 5) + rowBytes);
    assert.throws(() => packShard(fakeShard({ ...shape, frequencies: 1 }), shape), /packShard: \d+ frequencies, expected \d+/);
  });

  test('refuses a buffer of the wrong size', () => {
    const shape: ShardShape = { count: 3, thresholds: 2, dmax: 1, hidden: 2, depthCurves: false };
    const packed = packShard(fakeShard(shape), shape);
    assert.throws(() => unpackShard(packed, 0, { ...shape, thresholds: 3 }, 0), /shard of \d+ bytes for positions 0\+3, expected \d+/);
    assert.throws(() => unpackShard(packed, 0, shape, 0, packed.byteLength + 1), /shard of \d+ bytes for positions 0\+3 in a buffer of \d+/);
  });
});

describe('packShardInto', () => {
  const shape: ShardShape = { count: 7, thresholds: 3, dmax: 4, hidden: 5, depthCurves: true, frequencies: 2 };

  test('packs into a used slot the bytes packShard makes, and unpacks them from its first bytes', () => {
    const original = fakeShard(shape);
    const fresh = new Uint8Array(packShard(original, shape));
    const slot = new SharedArrayBuffer(fresh.byteLength + 100);
    new Uint8Array(slot).fill(0xa5); // what the slot's last shard left
    const { packed, bytes } = packShardInto(original, shape, slot);
    assert.equal(packed, slot);
    assert.equal(bytes, fresh.byteLength);
    assert.deepEqual(new Uint8Array(slot, 0, bytes), fresh);
    const unpacked = unpackShard(slot, 100, shape, 0.25, bytes);
    assert.deepEqual(unpacked.peaks, original.peaks);
    assert.deepEqual(unpacked.range.frequency, original.range.frequency);
    assert.deepEqual(unpacked.rows, unpackShard(fresh.buffer, 100, shape, 0.25).rows);
  });

  test('packs a shard that does not fit its slot, or has none, into a new ArrayBuffer and leaves the slot as it was', () => {
    const original = fakeShard(shape);
    const fresh = new Uint8Array(packShard(original, shape));
    const slot = new SharedArrayBuffer(fresh.byteLength - 1);
    new Uint8Array(slot).fill(0xa5);
    for (const given of [slot, undefined]) {
      const { packed, bytes } = packShardInto(original, shape, given);
      assert.ok(packed instanceof ArrayBuffer);
      assert.equal(bytes, packed.byteLength);
      assert.deepEqual(new Uint8Array(packed), fresh);
    }
    assert.ok(new Uint8Array(slot).every((byte) => byte === 0xa5));
  });
});

describe('ResultSlots', () => {
  test('take: none until a shard\'s size is known, then slots that hold it, reused once given back', () => {
    const slots = new ResultSlots();
    assert.equal(slots.take(), undefined);
    slots.needed(100_000);
    const first = slots.take() as SharedArrayBuffer;
    const second = slots.take() as SharedArrayBuffer;
    assert.ok(first.byteLength >= 100_000 && second.byteLength === first.byteLength);
    assert.equal(slots.made, 2);
    slots.give(first);
    assert.equal(slots.take(), first);
    assert.equal(slots.made, 2);
  });

  test('needed: a larger shard makes the next slots longer, and the shorter ones are dropped as they come back', () => {
    const slots = new ResultSlots();
    slots.needed(1000);
    const short = slots.take() as SharedArrayBuffer;
    const spare = slots.take() as SharedArrayBuffer;
    slots.give(spare);
    slots.needed(short.byteLength); // fits: nothing changes
    assert.equal(slots.take(), spare);
    slots.needed(short.byteLength + 1);
    slots.give(short);
    slots.give(spare);
    const long = slots.take() as SharedArrayBuffer;
    assert.ok(long !== short && long !== spare && long.byteLength > short.byteLength);
    assert.equal(slots.made, 3);
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

describe('codePointsOf / decodeCodePoints', () => {
  // The edges of every width, the surrogate gap (values 0xD000… skip U+D800–U+DFFF) and U+FFFE/U+FFFF.
  const EDGES = [0, 1, 126, 127, 1919, 1920, 0xd000 - 1, 0xd000, 0xd7ff, 0xe000, 61_437, 61_438, 65_535, 65_536, 1_048_575, 1_048_576, 65_994_751, 65_994_752, CODE_POINT_MAX_VALUE];

  test('the narrowest width that holds the largest value; decoding gives the values back', () => {
    for (const largest of EDGES) {
      const values = [0, largest, Math.floor(largest / 2), largest];
      const blob = codePointsOf(values);
      assert.equal(blob.byteLength, values.length * codePointWidth(largest), `largest ${largest}`);
      assert.deepEqual(Array.from(decodeCodePoints(blob, values.length)), values, `largest ${largest}`);
    }
    assert.deepEqual([126, 127, 1919, 1920, 61_437, 61_438, 1_048_575, 1_048_576, 65_994_751, 65_994_752].map(codePointWidth), [1, 2, 2, 3, 3, 4, 4, 5, 5, 6]);
  });

  test('every element of widths 1 to 4 is valid UTF-8 with no NUL, surrogate or U+FFFE/U+FFFF', () => {
    for (const largest of EDGES.filter((value) => codePointWidth(value) <= 4)) {
      const values = Array.from({ length: 2000 }, (_, k) => Math.min(largest, Math.floor((k * largest) / 1999)));
      const blob = codePointsOf(values);
      const text = blob.toString('utf8');
      assert.ok(Buffer.from(text, 'utf8').equals(blob), `largest ${largest}: not valid UTF-8`);
      const codePoints = [...text].map((char) => char.codePointAt(0) as number);
      assert.equal(codePoints.length, values.length);
      assert.ok(codePoints.every((cp) => cp > 0 && !(cp >= 0xd800 && cp <= 0xdfff) && cp !== 0xfffe && cp !== 0xffff), `largest ${largest}`);
    }
  });

  test('refuses what it cannot hold, and a BLOB whose length fits no width', () => {
    assert.throws(() => codePointsOf([CODE_POINT_MAX_VALUE + 1]), /does not fit a code point array/);
    assert.throws(() => codePointsOf([-1]), /integers ≥ 0/);
    assert.throws(() => decodeCodePoints(Buffer.alloc(7), 2), /7 bytes for 2 values/);
  });

  test("SQLite's built-ins alone (no function of ours) read every element as decodeCodePoints does", () => {
    const db = new Database(':memory:');
    try {
      const read = db.prepare(`SELECT ${codePointSql('@blob', '@length', 's.key')} AS value FROM ${sequenceSql('@length')} s ORDER BY s.key`).pluck();
      for (const largest of EDGES) {
        const values = Array.from({ length: 300 }, (_, k) => (k === 7 ? largest : (k * 7919) % (largest + 1)));
        assert.deepEqual(read.all({ blob: codePointsOf(values), length: values.length }), values, `largest ${largest}`);
      }
      assert.deepEqual(read.all({ blob: Buffer.alloc(0), length: 0 }), []);
    } finally {
      db.close();
    }
  });
});

describe('float32Sql', () => {
  test("SQLite's built-ins alone read every float32 of a BLOB exactly: normal, subnormal, the extremes, infinity", () => {
    const db = new Database(':memory:');
    try {
      const values = new Float32Array([0, 1, 0.01, 2 ** -149, 2 ** -126, 2 ** -127 * 1.5, 3.4028234663852886e38, Infinity, 1e-10, 123456.789]);
      const random = new Uint32Array(4000).map((_, k) => ((k * 2654435761) >>> 0) & 0x7f7fffff);
      const all = new Float32Array(values.length + random.length);
      all.set(values);
      all.set(new Float32Array(random.buffer), values.length);
      const read = db.prepare(`SELECT ${float32Sql('@blob', 's.key')} FROM ${sequenceSql('length(@blob) / 4')} s ORDER BY s.key`).pluck();
      const got = read.all({ blob: Buffer.from(all.buffer) }) as number[];
      assert.equal(got.length, all.length);
      for (let k = 0; k < all.length; k++) assert.ok(Object.is(got[k], all[k]), `element ${k}: ${got[k]} for ${all[k]}`);
    } finally {
      db.close();
    }
  });
});

describe('encodeCountBlock / decodeCountBlock', () => {
  const countsOf = (count: number, largest: number): Uint32Array => Uint32Array.from({ length: 3 * count }, (_, k) => (k * 7919) % (largest + 1));

  test('one code point array per class, each as narrow as its own largest count; decoding gives the counts back', () => {
    const counts = countsOf(37, 100);
    for (let p = 0; p < 37; p++) counts[3 * p] = 5000 + p; // n_x wide, n_h and n_y one byte each
    const block = encodeCountBlock(counts);
    assert.deepEqual([block.n_x.byteLength, block.n_h.byteLength, block.n_y.byteLength], [3 * 37, 37, 37]);
    assert.deepEqual(Array.from(decodeCountBlock(block, 37)), Array.from(counts));
    assert.deepEqual(Array.from(totalsOf(counts)), Array.from({ length: 37 }, (_, p) => counts[3 * p] + counts[3 * p + 1] + counts[3 * p + 2]));
  });
});

describe('CountHistogram', () => {
  test("median is the element ⌊(N−1)/2⌋ of the sorted values, whatever the order and merging; encode → addStored is the same histogram", () => {
    for (let trial = 0; trial < 200; trial++) {
      const size = 1 + ((trial * 37) % 101);
      const values = Array.from({ length: size }, (_, k) => ((k + 1) * (trial + 3) * 7919) % (1 + trial * 13));
      const whole = new CountHistogram();
      const left = new CountHistogram();
      const right = new CountHistogram();
      values.forEach((n, k) => {
        whole.add(n);
        (k % 3 === 0 ? left : right).add(n);
      });
      const merged = new CountHistogram();
      for (const part of [left, right]) {
        merged.addStored({ ...part.encode(), min_n: part.entries()[0]?.n ?? 0 });
      }
      const sorted = [...values].sort((a, b) => a - b);
      assert.equal(whole.median(), sorted[Math.floor((size - 1) / 2)]);
      assert.equal(merged.median(), whole.median());
      assert.deepEqual(merged.entries(), whole.entries());
      assert.equal(merged.total, size);
    }
    assert.equal(new CountHistogram().median(), null);
  });

  test('stored rows (merged when read, and when many are held) and single additions, read in between, give the histogram of every value added', () => {
    // n close together (merged in an array indexed by n) and far apart (merged pairwise).
    for (const spread of [1, 50]) {
      // Rows of 1,500 distinct n each: 120 of them pass the entries held unmerged (2¹⁷), so they are merged as they come too.
      const whole = new CountHistogram();
      const merged = new CountHistogram();
      for (let row = 0; row < 120; row++) {
        const part = new CountHistogram();
        for (let k = 0; k < 1500; k++) {
          const n = ((k * 131 + row * 977) % 40_000) * spread;
          part.add(n, 1 + ((k + row) % 4));
          whole.add(n, 1 + ((k + row) % 4));
        }
        merged.addStored({ ...part.encode(), min_n: part.entries()[0].n });
        if (row % 10 === 0) {
          merged.add(row, 2);
          whole.add(row, 2);
        }
        if (row % 25 === 0) assert.equal(merged.median(), whole.median());
      }
      assert.deepEqual(merged.entries(), whole.entries());
      assert.equal(merged.total, whole.total);
      assert.deepEqual(merged.encode(), whole.encode());
    }
  });
});

describe('histogram steps (schema 9)', () => {
  test('encodeSteps → decodeSteps gives the values back: steps below LARGE_STEP in one byte, larger ones (up to the widest code points) in hist_large', () => {
    let seed = 20261207;
    const random = () => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed / 2 ** 32;
    };
    const largest = [LARGE_STEP - 1, LARGE_STEP, 1919, 61437, 2_000_000];
    for (let trial = 0; trial < 300; trial++) {
      const length = Math.floor(random() * 60);
      const maxStep = largest[trial % largest.length];
      const values: number[] = [];
      let n = Math.floor(random() * 5000);
      for (let k = 0; k < length; k++) {
        values.push(n);
        // Mostly small steps, now and then one up to maxStep.
        n += 1 + (random() < 0.2 ? Math.floor(random() * maxStep) : Math.floor(random() * 10));
      }
      const { hist_steps, hist_large } = encodeSteps(values);
      assert.equal(hist_steps.length, length, 'one byte per value');
      const large = values.filter((value, k) => k > 0 && value - values[k - 1] >= LARGE_STEP).length;
      assert.equal(hist_large.length === 0, large === 0);
      const decoded = decodeSteps({ distinct_n: length, min_n: values[0] ?? 0, hist_steps, hist_large });
      assert.deepEqual(Array.from(decoded), values);
    }
  });
});

