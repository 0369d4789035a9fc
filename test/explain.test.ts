import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { BYTE_VALUES, CLASS_COUNT, forwardStates, traceRange, traceTables, type Model } from '../src/engine/index.js';
import { activeCountsAt, activePatternsAt, explainPosition, type PositionExplanation } from '../src/engine/explain.js';
import { parseModel } from '../src/model/format.js';
import { REFERENCE_POSITIONS, SHARED_DATA, SHARED_MODEL } from './paths.js';
import { plainQ1 } from './plain/plainQ1.js';
import { mulberry32, randomModel } from './random-model.js';

const THRESHOLDS = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1, 10];

/** The engine's counts (traceRange) for every position: `[(t·T + k)·3 + class]`. */
function engineCounts(model: Model, bytes: Uint8Array, states: Float32Array, thresholds: readonly number[], dmax: number): Uint32Array {
  const input = { model, bytes, states, thresholds: Float32Array.from(thresholds), dmax, rule: 'q1' as const };
  return traceRange(input, traceTables(model), 0, bytes.length - 1).counts;
}

/** Asserts the explanation's counts equal the engine's for position t at every τ. */
function assertCountsMatch(explanation: PositionExplanation, counts: Uint32Array, thresholds: readonly number[]): void {
  const T = thresholds.length;
  thresholds.forEach((tau, k) => {
    const base = (explanation.t * T + k) * CLASS_COUNT;
    const got = activeCountsAt(explanation, tau);
    assert.deepEqual([got.n_x, got.n_h, got.n_y], [counts[base], counts[base + 1], counts[base + 2]], `t=${explanation.t} τ=${tau}`);
  });
}

describe('explain: one position, pattern by pattern', () => {
  const cases = [
    { hidden: 1, length: 40, dmax: 3, seed: 11, alphabet: 4, gain: 1 },
    { hidden: 2, length: 60, dmax: 50, seed: 12, alphabet: 3, gain: 3 },
    { hidden: 5, length: 120, dmax: 7, seed: 13, alphabet: 6, gain: 1 },
    { hidden: 9, length: 80, dmax: 50, seed: 14, alphabet: 256, gain: 1 },
    { hidden: 33, length: 70, dmax: 20, seed: 15, alphabet: 12, gain: 3 },
  ];
  for (const c of cases) {
    test(`random model H=${c.hidden} N=${c.length} Dmax=${c.dmax} seed=${c.seed}: attributions equal the plain implementation's, counts the engine's`, () => {
      const random = mulberry32(c.seed);
      const model = randomModel(random, c.hidden, c.gain);
      const bytes = Uint8Array.from({ length: c.length }, () => Math.floor(random() * c.alphabet));
      const states = forwardStates(model, bytes);
      const counts = engineCounts(model, bytes, states, THRESHOLDS, c.dmax);
      const H = c.hidden;
      let checkedPatterns = 0;
      plainQ1(model, bytes, THRESHOLDS, c.dmax, (t, plain) => {
        const explanation = explainPosition({ model, bytes, states, t, dmax: c.dmax, rule: 'q1' });
        assert.equal(explanation.y, bytes[t + 1]);
        assertCountsMatch(explanation, counts, THRESHOLDS);
        // Every pattern with attribution > 0 is listed with the plain attribution, bit for bit, and none other.
        const listed = { wx: new Float32Array(H * BYTE_VALUES), wh: new Float32Array(H * H), wy: new Float32Array(BYTE_VALUES * H) };
        for (const p of explanation.patterns) {
          const index = p.cls === 'wx' ? p.dst * BYTE_VALUES + p.src : p.cls === 'wh' ? p.dst * H + p.src : p.dst * H + p.src;
          assert.equal(listed[p.cls][index], 0, `pattern ${p.cls} ${p.src}→${p.dst} listed twice`);
          listed[p.cls][index] = p.attribution;
          // The offset of the peak is one where the pattern has a candidate.
          if (p.cls === 'wy') assert.equal(p.d, 0);
          else assert.ok(p.d >= 1 && p.d <= Math.min(t, c.dmax), `d=${p.d} at t=${t}`);
          if (p.cls === 'wx') assert.equal(bytes[t - p.d], p.src, 'a Wx pattern peaks at an offset whose byte is its source');
          if (p.cls === 'wy') assert.equal(p.dst, bytes[t + 1]);
        }
        for (const cls of ['wx', 'wh', 'wy'] as const) {
          assert.deepEqual(Buffer.from(listed[cls].buffer), Buffer.from(plain[cls].buffer), `${cls} attributions at t=${t}`);
        }
        checkedPatterns += explanation.patterns.length;
        // Sorted by attribution, descending; the active list at τ is exactly those above float32(τ).
        for (let k = 1; k < explanation.patterns.length; k++) assert.ok(explanation.patterns[k - 1].attribution >= explanation.patterns[k].attribution);
        const tau = 0.01;
        assert.ok(activePatternsAt(explanation, tau).every((p) => p.attribution > Math.fround(tau)));
      });
      assert.ok(checkedPatterns > 0);
    });
  }

  test('the shipped model: counts equal the published per-position counts at every τ, on many positions', () => {
    const model = parseModel(readFileSync(SHARED_MODEL), 'sat_model.bin');
    const bytes = new Uint8Array(readFileSync(SHARED_DATA)).subarray(0, 1024);
    const states = forwardStates(model, bytes);
    const rows = readFileSync(REFERENCE_POSITIONS, 'utf8').trim().split('\n').slice(1).map((line) => line.split('\t').map(Number));
    const byT = new Map<number, number[][]>();
    for (const row of rows) byT.set(row[0], [...(byT.get(row[0]) ?? []), row]);
    // Every 13th position, plus the first ones (shallow traces) and the last.
    const positions = [0, 1, 2, 49, 50, 51, ...Array.from({ length: 79 }, (_, k) => 13 * k + 7), 1022];
    for (const t of positions) {
      const explanation = explainPosition({ model, bytes, states, t, dmax: 50, rule: 'q1' });
      for (const [, y, tau, nx, nh, ny] of byT.get(t) ?? assert.fail(`no reference rows at t=${t}`)) {
        assert.equal(explanation.y, y);
        const got = activeCountsAt(explanation, tau);
        assert.deepEqual([got.n_x, got.n_h, got.n_y], [nx, nh, ny], `t=${t} τ=${tau}`);
      }
    }
  });

  test('a position outside the window is refused', () => {
    const model = randomModel(mulberry32(1), 2, 1);
    const bytes = Uint8Array.of(1, 2, 3);
    const states = forwardStates(model, bytes);
    assert.throws(() => explainPosition({ model, bytes, states, t: 2, dmax: 5, rule: 'q1' }), /outside 0 \.\. 1/);
  });
});
