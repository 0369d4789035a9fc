import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BYTE_VALUES, CLASS_COUNT, forwardStates, frequencyLength, traceRange, traceTables, type Model } from '../src/engine/index.js';
import { plainQ1, type PlainResult } from './plain/plainQ1.js';
import { mulberry32, randomModel, type RandomCase } from './random-model.js';

/**
 * Activation frequency (issue #19 item 1): per pattern and τ, the positions where
 * it is active. The engine counts it in the trace kernel; the plain implementation
 * (test/plain) counts it from every pattern's attribution at every position.
 */

const CASES: RandomCase[] = [
  { hidden: 1, length: 40, dmax: 3, seed: 11, alphabet: 4, gain: 1 },
  { hidden: 2, length: 30, dmax: 50, seed: 21, alphabet: 256, gain: 1 },
  { hidden: 5, length: 50, dmax: 8, seed: 51, alphabet: 6, gain: 2 },
  { hidden: 31, length: 40, dmax: 50, seed: 311, alphabet: 16, gain: 1 },
  { hidden: 33, length: 35, dmax: 12, seed: 331, alphabet: 40, gain: 3 },
  { hidden: 64, length: 30, dmax: 50, seed: 641, alphabet: 256, gain: 1 },
  { hidden: 128, length: 24, dmax: 20, seed: 1281, alphabet: 24, gain: 1 },
];

/** The engine's frequencies at `thresholds`, traced in ranges cut at `cuts` and added up. */
function engineFrequency(model: Model, bytes: Uint8Array, thresholds: readonly number[], dmax: number, cuts: readonly number[] = []): { frequency: Uint32Array; counts: Uint32Array[] } {
  const positions = bytes.length - 1;
  const frequencyThresholds = Float32Array.from(thresholds);
  const input = { model, bytes, states: forwardStates(model, bytes), thresholds: frequencyThresholds, dmax, rule: 'q1' as const, frequencyThresholds };
  const tables = traceTables(model);
  const frequency = new Uint32Array(thresholds.length * frequencyLength(model.hidden));
  const counts: Uint32Array[] = [];
  const bounds = [0, ...cuts, positions];
  for (let r = 0; r + 1 < bounds.length; r++) {
    const range = traceRange(input, tables, bounds[r], bounds[r + 1] - bounds[r]);
    assert.ok(range.frequency !== undefined);
    range.frequency.forEach((n, k) => (frequency[k] += n));
    counts.push(range.counts);
  }
  return { frequency, counts };
}

/** The plain implementation's frequencies in the engine's layout (frequencyLength). */
function plainInEngineLayout(plain: PlainResult, H: number): Uint32Array {
  const length = frequencyLength(H);
  const out = new Uint32Array(plain.frequency.length * length);
  plain.frequency.forEach(({ wx, wh, wy }, k) => {
    const base = k * length;
    for (let c = 0; c < BYTE_VALUES; c++) for (let j = 0; j < H; j++) out[base + c * H + j] = wx[j * BYTE_VALUES + c];
    for (let i = 0; i < H; i++) for (let j = 0; j < H; j++) out[base + BYTE_VALUES * H + i * H + j] = wh[i * H + j];
    for (let y = 0; y < BYTE_VALUES; y++) for (let j = 0; j < H; j++) out[base + BYTE_VALUES * H + H * H + y * H + j] = wy[y * H + j];
  });
  return out;
}

/** The first pattern where two frequency arrays differ, named. */
function firstDifference(actual: Uint32Array, expected: Uint32Array, H: number): string | undefined {
  const length = frequencyLength(H);
  for (let k = 0; k < actual.length; k++) {
    if (actual[k] === expected[k]) continue;
    const p = k % length;
    const where = p < BYTE_VALUES * H ? `Wx (${Math.floor(p / H)}, ${p % H})`
      : p < BYTE_VALUES * H + H * H ? `Wh (${(p - BYTE_VALUES * H) % H} → ${Math.floor((p - BYTE_VALUES * H) / H)})`
      : `Wy (${(p - BYTE_VALUES * H - H * H) % H}, ${Math.floor((p - BYTE_VALUES * H - H * H) / H)})`;
    return `τ #${Math.floor(k / length)} ${where}: engine ${actual[k]}, plain ${expected[k]}`;
  }
  return undefined;
}

describe('activation frequency: the engine agrees with the plain implementation on random models', () => {
  for (const c of CASES) {
    test(`H=${c.hidden} N=${c.length} Dmax=${c.dmax} alphabet=${c.alphabet} gain=${c.gain} seed=${c.seed}`, () => {
      const random = mulberry32(c.seed);
      const model = randomModel(random, c.hidden, c.gain);
      const bytes = Uint8Array.from({ length: c.length }, () => Math.floor(random() * c.alphabet));
      const plainAt = (taus: number[]): PlainResult => plainQ1(model, bytes, taus, c.dmax);
      // τ of several decades, and ties: each class's largest and median peak (active nowhere at its largest: strict >).
      const decades = [1e-5, 1e-3, 1e-2, 0.1, 10 ** (-4 + 4 * random())];
      const peaks = plainAt([1]).peaks;
      const ties = [peaks.wx, peaks.wh, peaks.wy].flatMap((values) => {
        const nonzero = values.filter((v) => v > 0).sort();
        return nonzero.length > 0 ? [nonzero[nonzero.length - 1], nonzero[Math.floor(nonzero.length / 2)]] : [];
      });
      const thresholds = [...decades, ...ties];
      const plain = plainAt(thresholds);
      const expected = plainInEngineLayout(plain, c.hidden);
      const positions = c.length - 1;
      for (const cuts of [[], [1], [Math.floor(positions / 2)], [Math.floor(positions / 3), Math.floor((2 * positions) / 3) + 1]]) {
        const { frequency, counts } = engineFrequency(model, bytes, thresholds, c.dmax, cuts);
        assert.equal(firstDifference(frequency, expected, c.hidden), undefined, `cut at ${cuts.join(', ')}`);
        // The invariant: per class and τ, the frequencies add up to the counts' sum over positions.
        const H = c.hidden;
        const length = frequencyLength(H);
        const classBounds = [0, BYTE_VALUES * H, BYTE_VALUES * H + H * H, length];
        thresholds.forEach((_, k) => {
          for (let cls = 0; cls < CLASS_COUNT; cls++) {
            let patterns = 0;
            for (let p = classBounds[cls]; p < classBounds[cls + 1]; p++) patterns += frequency[k * length + p];
            let summed = 0;
            for (const block of counts) for (let q = k * CLASS_COUNT + cls; q < block.length; q += thresholds.length * CLASS_COUNT) summed += block[q];
            assert.equal(patterns, summed, `τ #${k}, class ${cls}`);
          }
        });
      }
      // Not a comparison of zeros: patterns of every class are active somewhere at the smallest τ.
      for (const cls of ['wx', 'wh', 'wy'] as const) assert.ok(plain.frequency[0][cls].some((n) => n > 0), `some ${cls} pattern is active`);
    });
  }

  test('no frequency τ: nothing counted', () => {
    const random = mulberry32(7);
    const model = randomModel(random, 4, 1);
    const bytes = Uint8Array.from({ length: 20 }, () => Math.floor(random() * 5));
    const range = traceRange({ model, bytes, states: forwardStates(model, bytes), thresholds: Float32Array.of(0.01), dmax: 5, rule: 'q1' }, traceTables(model), 0, 19);
    assert.equal(range.frequency?.length, 0);
  });
});
