import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CLASS_COUNT,
  forwardKernel,
  forwardStates,
  patternPeaks,
  patternPeaksInKernel,
  significantCounts,
  traceRange,
  traceTables,
  summarizeRangeInKernel,
  type Model,
  type PatternPeaks,
  type RangeSummary,
} from '../src/engine/index.js';
// Parts of the engine that only its tests call, from their modules.
import { kernelTanhf, kernelTanhRow } from '../src/engine/chain.js';
import { mergePeakFactors } from '../src/engine/patterns.js';
import { summarizeRange } from '../src/engine/results.js';
import { tanhf } from '../src/engine/tanhf.js';
import { peakFactorLength } from '../src/engine/trace.js';
import { kernelExp } from '../src/engine/trace-kernel.js';
import { parseModel } from '../src/model/format.js';
import { REFERENCE_POSITIONS, SHARED, SHARED_DATA, SHARED_MODEL } from './paths.js';
import { printed, publishedFigures } from './reference.js';
import { plainQ1, type PlainResult } from './plain/plainQ1.js';
import { mulberry32, randomModel, type RandomCase } from './random-model.js';

const DEFAULT_THRESHOLDS = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10];
const DEFAULT_DMAX = 50;

/** One engine run over a window, possibly split into several traceRange calls. */
interface EngineRun {
  readonly targets: Uint8Array;
  readonly surprisal: Float64Array;
  /** `[(t·T + k)·3 + class]`, as RangeResult.counts. */
  readonly counts: Uint32Array;
  /** `[t·(Dmax+1) + d]`, NaN where d > t. */
  readonly depthMass: Float32Array;
  readonly peakFactors: Float32Array;
  readonly peaks: PatternPeaks;
}

/**
 * Runs the engine on all N-1 positions of `bytes`. `rangeStarts` lists where
 * further ranges begin (besides 0); the ranges' results are concatenated and
 * their peak factors merged, as the runner does across workers.
 */
function runEngine(model: Model, bytes: Uint8Array, thresholds: readonly number[], dmax: number, rangeStarts: readonly number[] = []): EngineRun {
  const positions = bytes.length - 1;
  const T = thresholds.length;
  const input = { model, bytes, states: forwardStates(model, bytes), thresholds: Float32Array.from(thresholds), dmax, rule: 'q1' as const };
  const tables = traceTables(model);
  const targets = new Uint8Array(positions);
  const surprisal = new Float64Array(positions);
  const counts = new Uint32Array(positions * T * CLASS_COUNT);
  const depthMass = new Float32Array(positions * (dmax + 1));
  const peakFactors = new Float32Array(peakFactorLength(model.hidden));
  const bounds = [0, ...rangeStarts, positions];
  for (let r = 0; r + 1 < bounds.length; r++) {
    const range = traceRange(input, tables, bounds[r], bounds[r + 1] - bounds[r]);
    targets.set(range.targets, range.start);
    surprisal.set(range.surprisal, range.start);
    counts.set(range.counts, range.start * T * CLASS_COUNT);
    depthMass.set(range.depthMass, range.start * (dmax + 1));
    mergePeakFactors(peakFactors, range.peakFactors);
  }
  return { targets, surprisal, counts, depthMass, peakFactors, peaks: patternPeaks(model, peakFactors) };
}

/** Asserts two typed arrays hold the same bits, naming the first differing element. */
function assertSameBits(actual: Float32Array | Float64Array | Uint8Array | Uint32Array, expected: typeof actual, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const a = Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength);
  const b = Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength);
  if (!a.equals(b)) {
    const k = actual.findIndex((value: number, index: number) => !Object.is(value, expected[index]));
    assert.fail(`${what}: element ${k} is ${actual[k]}, expected ${expected[k]}`);
  }
}

const mean = (values: readonly number[]): number => values.reduce((sum, v) => sum + v, 0) / values.length;

function loadShipped(): { model: Model; bytes: Uint8Array } {
  const model = parseModel(readFileSync(SHARED_MODEL), 'sat_model.bin');
  const bytes = new Uint8Array(readFileSync(SHARED_DATA)).subarray(0, 1024);
  return { model, bytes };
}

interface ReferenceRow {
  t: number;
  y: number;
  tau: number;
  n: [number, number, number];
}

function referenceRows(): ReferenceRow[] {
  const lines = readFileSync(REFERENCE_POSITIONS, 'utf8').trim().split('\n');
  assert.equal(lines[0], 't\ty\ttau\tn_x\tn_h\tn_y');
  return lines.slice(1).map((line) => {
    const [t, y, tau, nx, nh, ny] = line.split('\t').map(Number);
    return { t, y, tau, n: [nx, nh, ny] };
  });
}

/** Compares reference rows with per-position counts given by `countsAt(t, k)`; returns the mismatches. */
function referenceMismatches(rows: readonly ReferenceRow[], targetAt: (t: number) => number, countsAt: (t: number, k: number) => number[]): string[] {
  const mismatches: string[] = [];
  for (const row of rows) {
    const k = DEFAULT_THRESHOLDS.indexOf(row.tau);
    assert.ok(k >= 0, `unknown τ ${row.tau}`);
    const got = countsAt(row.t, k);
    if (targetAt(row.t) !== row.y || got.join() !== row.n.join()) {
      mismatches.push(`t=${row.t} τ=${row.tau}: y ${targetAt(row.t)} n ${got.join(' ')}, reference y ${row.y} n ${row.n.join(' ')}`);
    }
  }
  return mismatches;
}

/** Asserts the engine run and the plain implementation agree on everything, bit for bit. */
function assertEngineMatchesPlain(engine: EngineRun, plain: PlainResult, thresholds: readonly number[], dmax: number): void {
  const T = thresholds.length;
  const slots = dmax + 1;
  assert.deepEqual(Array.from(engine.targets), plain.targets, 'targets');
  for (let t = 0; t < plain.targets.length; t++) {
    assert.ok(Object.is(engine.surprisal[t], plain.surprisal[t]), `surprisal at t=${t}: ${engine.surprisal[t]} vs plain ${plain.surprisal[t]}`);
    for (let k = 0; k < T; k++) {
      const got = Array.from(engine.counts.subarray((t * T + k) * 3, (t * T + k) * 3 + 3));
      assert.deepEqual(got, plain.counts[t][k], `counts at t=${t} τ=${thresholds[k]}`);
    }
    for (let d = 0; d < slots; d++) {
      const got = engine.depthMass[t * slots + d];
      assert.ok(Object.is(got, plain.depthMass[t][d]), `depth mass at t=${t} d=${d}: ${got} vs plain ${plain.depthMass[t][d]}`);
    }
  }
  assertSameBits(engine.peaks.wx, plain.peaks.wx, 'Wx peaks');
  assertSameBits(engine.peaks.wh, plain.peaks.wh, 'Wh peaks');
  assertSameBits(engine.peaks.wy, plain.peaks.wy, 'Wy peaks');
}

/** Runs the engine again with ranges starting at `rangeStarts` (besides 0) and asserts the result is bit-identical to `whole`. */
function assertSplitMatches(model: Model, bytes: Uint8Array, thresholds: readonly number[], dmax: number, rangeStarts: readonly number[], whole: EngineRun): void {
  const positions = bytes.length - 1;
  const starts = [...new Set(rangeStarts)].filter((start) => start > 0 && start < positions).sort((a, b) => a - b);
  if (starts.length === 0) return;
  const split = runEngine(model, bytes, thresholds, dmax, starts);
  const label = `ranges starting at 0,${starts.join(',')}`;
  assertSameBits(split.targets, whole.targets, `${label}: targets`);
  assertSameBits(split.surprisal, whole.surprisal, `${label}: surprisal`);
  assertSameBits(split.counts, whole.counts, `${label}: counts`);
  assertSameBits(split.depthMass, whole.depthMass, `${label}: depth mass`);
  assertSameBits(split.peakFactors, whole.peakFactors, `${label}: peak factors`);
}

describe('engine on the shipped inputs (sat_model.bin, enwik_1024.txt, Dmax 50)', () => {
  const { model, bytes } = loadShipped();
  const positions = bytes.length - 1;
  // Computed on first use, inside a test, so a failure is reported by that test.
  let engineRun: EngineRun | undefined;
  let plainRun: PlainResult | undefined;
  const engine = (): EngineRun => (engineRun ??= runEngine(model, bytes, DEFAULT_THRESHOLDS, DEFAULT_DMAX));
  const plain = (): PlainResult => (plainRun ??= plainQ1(model, bytes, DEFAULT_THRESHOLDS, DEFAULT_DMAX));
  const T = DEFAULT_THRESHOLDS.length;
  const engineCounts = (t: number, k: number): number[] => Array.from(engine().counts.subarray((t * T + k) * 3, (t * T + k) * 3 + 3));

  test('every row of the reference positions TSV matches', () => {
    const rows = referenceRows();
    assert.equal(rows.length, positions * T);
    // Every (t, τ) appears exactly once, so matching all rows covers the whole run.
    assert.equal(new Set(rows.map((row) => `${row.t}/${row.tau}`)).size, rows.length);
    const run = engine();
    const mismatches = referenceMismatches(rows, (t) => run.targets[t], engineCounts);
    assert.deepEqual(mismatches.slice(0, 10), [], `${mismatches.length} of ${rows.length} rows differ`);
  });

  test('run-level figures equal the published JSON at its printed precision', () => {
    const published = publishedFigures();
    const run = engine();
    assert.deepEqual(significantCounts(model), published.significant);
    assert.equal(positions, published.positions);
    assert.equal(printed(mean(Array.from(run.surprisal)), 4), published.bpc, 'bpc');

    const significantTotal = published.significant.total;
    DEFAULT_THRESHOLDS.forEach((tau, k) => {
      const perClass = [0, 1, 2].map((cls) => Array.from({ length: positions }, (_, t) => run.counts[(t * T + k) * 3 + cls]));
      const n = perClass[0].map((nx, t) => nx + perClass[1][t] + perClass[2][t]).sort((a, b) => a - b);
      const wantSparsity = published.sparsity[k];
      const wantClasses = published.classes[k];
      assert.equal(wantSparsity.tau, tau);
      assert.equal(printed(mean(n), 1), wantSparsity.mean, `mean at τ=${tau}`);
      assert.equal(n[Math.floor((n.length - 1) / 2)], wantSparsity.median, `median at τ=${tau}`);
      assert.equal(n[0], wantSparsity.min, `min at τ=${tau}`);
      assert.equal(n[n.length - 1], wantSparsity.max, `max at τ=${tau}`);
      assert.equal(printed(mean(n) / significantTotal, 3), wantSparsity.fraction, `fraction at τ=${tau}`);
      assert.equal(printed(mean(perClass[0]), 1), wantClasses.mean_wx, `mean n_x at τ=${tau}`);
      assert.equal(printed(mean(perClass[1]), 1), wantClasses.mean_wh, `mean n_h at τ=${tau}`);
      assert.equal(printed(mean(perClass[2]), 1), wantClasses.mean_wy, `mean n_y at τ=${tau}`);
    });

    // Never active at τ = 0.01: the pattern's peak over the run is not above float32(0.01).
    const tau = Math.fround(0.01);
    const never = (peaks: Float32Array): { never: number; of: number } => ({ never: peaks.filter((p) => !(p > tau)).length, of: peaks.length });
    const wx = never(run.peaks.wx);
    const wh = never(run.peaks.wh);
    const wy = never(run.peaks.wy);
    assert.deepEqual(
      { wx, wh, wy, total: { never: wx.never + wh.never + wy.never, of: wx.of + wh.of + wy.of } },
      published.never_active,
    );

    const slots = DEFAULT_DMAX + 1;
    const depthMeans = Array.from({ length: slots }, (_, d) => {
      const existing = Array.from({ length: positions - d }, (_, p) => run.depthMass[(d + p) * slots + d]);
      assert.ok(existing.every(Number.isFinite), `depth mass exists for every t ≥ ${d}`);
      return mean(existing);
    });
    assert.equal(published.depth.length, slots);
    depthMeans.forEach((massMean, d) => {
      assert.equal(published.depth[d].d, d);
      assert.equal(printed(massMean, 4), published.depth[d].mean_mass, `depth mean mass at d=${d}`);
      assert.equal(printed(massMean / depthMeans[0], 4), published.depth[d].fraction, `depth fraction at d=${d}`);
    });
  });

  test('depth mass is NaN exactly where d > t', () => {
    const slots = DEFAULT_DMAX + 1;
    const run = engine();
    for (let t = 0; t < positions; t++) {
      for (let d = 0; d < slots; d++) assert.equal(Number.isNaN(run.depthMass[t * slots + d]), d > t, `t=${t} d=${d}`);
    }
  });

  test('splitting the window into ranges gives bit-identical results', () => {
    assertSplitMatches(model, bytes, DEFAULT_THRESHOLDS, DEFAULT_DMAX, [1, 50, 51, 512, 1000, 1022], engine());
  });

  test('the plain implementation reproduces every reference row', () => {
    const rows = referenceRows();
    const mismatches = referenceMismatches(rows, (t) => plain().targets[t], (t, k) => plain().counts[t][k]);
    assert.deepEqual(mismatches.slice(0, 10), [], `${mismatches.length} of ${rows.length} rows differ`);
  });

  test('the engine agrees with the plain implementation bit for bit', () => {
    assertEngineMatchesPlain(engine(), plain(), DEFAULT_THRESHOLDS, DEFAULT_DMAX);
  });
});

describe('tanhf', () => {
  test('matches all 24,024 reference vectors bit for bit, and Math.tanh does not', () => {
    const lines = readFileSync(join(SHARED, 'reference', 'tanhf-vectors.tsv'), 'utf8').trim().split('\n');
    assert.equal(lines[0], 'x_bits\ttanhf_bits');
    assert.equal(lines.length - 1, 24024);
    const bits = new Uint32Array(1);
    const float = new Float32Array(bits.buffer);
    const toFloat = (hex: string): number => ((bits[0] = parseInt(hex, 16)), float[0]);
    const toBits = (x: number): number => ((float[0] = x), bits[0]);
    const mismatches: string[] = [];
    let correctlyRoundedMisses = 0;
    for (const line of lines.slice(1)) {
      const [xHex, wantHex] = line.split('\t');
      const x = toFloat(xHex);
      const want = parseInt(wantHex, 16);
      const got = toBits(tanhf(x));
      if (got !== want) mismatches.push(`tanhf(0x${xHex}) = 0x${got.toString(16).padStart(8, '0')}, want 0x${wantHex}`);
      if (toBits(Math.fround(Math.tanh(x))) !== want) correctlyRoundedMisses++;
    }
    assert.deepEqual(mismatches.slice(0, 10), [], `${mismatches.length} vectors differ`);
    // The forward pass uses the WebAssembly port: it must agree with every vector too (NaN with NaN).
    const kernelMismatches: string[] = [];
    for (const line of lines.slice(1)) {
      const [xHex, wantHex] = line.split('\t');
      const got = kernelTanhf(toFloat(xHex));
      const want = toFloat(wantHex);
      if (!(Number.isNaN(want) ? Number.isNaN(got) : toBits(got) === parseInt(wantHex, 16))) kernelMismatches.push(`kernel tanhf(0x${xHex}) = 0x${toBits(got).toString(16).padStart(8, '0')}, want 0x${wantHex}`);
    }
    assert.deepEqual(kernelMismatches.slice(0, 10), [], `${kernelMismatches.length} vectors differ in the kernel`);
    // The forward pass computes a row four lanes at a time: the same results, vector by vector.
    const rowInputs = Float32Array.from(lines.slice(1), (line) => toFloat(line.split('\t')[0]));
    const rowResults = kernelTanhRow(rowInputs);
    const rowMismatches = lines.slice(1).filter((line, k) => {
      const want = toFloat(line.split('\t')[1]);
      return !(Number.isNaN(want) ? Number.isNaN(rowResults[k]) : toBits(rowResults[k]) === parseInt(line.split('\t')[1], 16));
    });
    assert.deepEqual(rowMismatches.slice(0, 10), [], `${rowMismatches.length} vectors differ in the kernel's four-lane row`);
    assert.ok(correctlyRoundedMisses > 0, 'Math.fround(Math.tanh(x)) matches every vector, so the vectors do not discriminate');
  });

  test('the four-lane row equals the one-value kernel on 4 million random floats and every branch boundary (all 2^32 were checked once)', () => {
    const bits = new Uint32Array(1 << 22);
    let seed = 0x9e3779b9;
    for (let k = 0; k < bits.length; k++) {
      seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
      bits[k] = seed;
    }
    // Around each threshold tanhf branches on (and ±0, ±inf, NaN), and each expm1f branches on for
    // its argument ±2|x| (one binade up: 0x800000 less in x), both signs, ±4 ulps.
    const expm1Edges = [0x33000000, 0x3eb17218, 0x3f851592, 0x4195b844, 0x42b17218].map((edge) => edge - 0x800000);
    const edges = [0, 0x24000000, 0x3f800000, 0x41b00000, 0x7f800000, 0x7fc00000, ...expm1Edges];
    let at = 0;
    for (const edge of edges) {
      for (let d = -4; d <= 4; d++) {
        for (const sign of [0, 0x80000000]) bits[at++] = ((edge + d) | sign) >>> 0;
      }
    }
    const values = new Float32Array(bits.buffer);
    const row = kernelTanhRow(values);
    const rowBits = new Uint32Array(row.buffer);
    const mismatches: string[] = [];
    for (let k = 0; k < values.length && mismatches.length < 10; k++) {
      const want = Math.fround(kernelTanhf(values[k]));
      if (!(Number.isNaN(want) ? Number.isNaN(row[k]) : Object.is(row[k], want))) mismatches.push(`0x${bits[k].toString(16)}: row 0x${rowBits[k].toString(16)}, one value ${want}`);
    }
    assert.deepEqual(mismatches, []);
  });
});




/** Thresholds 1e-6 .. 10, a few log-uniform random ones, in shuffled order (the engine must keep the caller's order). */
function randomThresholds(random: () => number): number[] {
  const taus = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1, 10];
  for (let k = 0; k < 3; k++) taus.push(10 ** (-6 + 7 * random()));
  for (let k = taus.length - 1; k > 0; k--) {
    const other = Math.floor(random() * (k + 1));
    [taus[k], taus[other]] = [taus[other], taus[k]];
  }
  return taus;
}

/** Peak attributions of each class, used as thresholds: at the peak's position the pattern must NOT count (strict >). */
function tieThresholds(peaks: PatternPeaks): number[] {
  const ties: number[] = [];
  for (const values of [peaks.wx, peaks.wh, peaks.wy]) {
    const nonzero = values.filter((v) => v > 0).sort();
    if (nonzero.length > 0) ties.push(nonzero[nonzero.length - 1], nonzero[Math.floor(nonzero.length / 2)]);
  }
  return ties;
}

const RANDOM_CASES: RandomCase[] = [
  { hidden: 1, length: 64, dmax: 3, seed: 101, alphabet: 4, gain: 1 },
  { hidden: 1, length: 2, dmax: 50, seed: 102, alphabet: 256, gain: 1 },
  { hidden: 2, length: 2, dmax: 1, seed: 201, alphabet: 256, gain: 1 },
  { hidden: 2, length: 40, dmax: 50, seed: 202, alphabet: 8, gain: 3 },
  { hidden: 2, length: 300, dmax: 50, seed: 203, alphabet: 3, gain: 1 },
  { hidden: 3, length: 70, dmax: 50, seed: 301, alphabet: 5, gain: 1 },
  { hidden: 3, length: 20, dmax: 50, seed: 302, alphabet: 256, gain: 3 },
  { hidden: 5, length: 200, dmax: 50, seed: 501, alphabet: 6, gain: 1 },
  { hidden: 5, length: 120, dmax: 1, seed: 502, alphabet: 256, gain: 1 },
  { hidden: 5, length: 80, dmax: 3, seed: 503, alphabet: 12, gain: 3 },
  { hidden: 33, length: 160, dmax: 50, seed: 3301, alphabet: 20, gain: 1 },
  { hidden: 33, length: 90, dmax: 3, seed: 3302, alphabet: 256, gain: 3 },
  { hidden: 33, length: 30, dmax: 50, seed: 3303, alphabet: 10, gain: 1 },
  { hidden: 33, length: 2, dmax: 50, seed: 3304, alphabet: 256, gain: 1 },
  // The WebAssembly trace pads the hidden size to a multiple of 32 and works in blocks of 8 and 32.
  { hidden: 31, length: 60, dmax: 50, seed: 3101, alphabet: 16, gain: 1 },
  { hidden: 32, length: 80, dmax: 50, seed: 3201, alphabet: 40, gain: 1 },
  { hidden: 64, length: 45, dmax: 50, seed: 6401, alphabet: 30, gain: 1 },
  { hidden: 65, length: 40, dmax: 7, seed: 6501, alphabet: 256, gain: 3 },
  { hidden: 128, length: 64, dmax: 50, seed: 12801, alphabet: 24, gain: 1 },
  { hidden: 128, length: 40, dmax: 3, seed: 12802, alphabet: 256, gain: 3 },
];

describe('engine agrees with the plain implementation on random models', () => {
  for (const c of RANDOM_CASES) {
    const name = `H=${c.hidden} N=${c.length} Dmax=${c.dmax} alphabet=${c.alphabet} gain=${c.gain} seed=${c.seed}`;
    test(name, () => {
      const random = mulberry32(c.seed);
      const model = randomModel(random, c.hidden, c.gain);
      const bytes = Uint8Array.from({ length: c.length }, () => Math.floor(random() * c.alphabet));
      const baseThresholds = randomThresholds(random);
      const thresholds = [...baseThresholds, ...tieThresholds(runEngine(model, bytes, baseThresholds, c.dmax).peaks)];
      const positions = c.length - 1;

      const engine = runEngine(model, bytes, thresholds, c.dmax);
      const plain = plainQ1(model, bytes, thresholds, c.dmax);

      assertEngineMatchesPlain(engine, plain, thresholds, c.dmax);
      if (c.hidden >= 2 && positions >= 2) assert.ok(plain.gatedNonzero > 0, 'the 1e-8 gate skipped a nonzero scaled value');

      // Different range boundaries give bit-identical results.
      const splits = [[1], [Math.floor(positions / 2)], [Math.floor(positions / 3), Math.floor((2 * positions) / 3) + 1], Array.from({ length: Math.floor((positions - 1) / 7) }, (_, r) => 7 * (r + 1))];
      for (const rangeStarts of splits) assertSplitMatches(model, bytes, thresholds, c.dmax, rangeStarts, engine);
    });
  }
});

describe('engine agrees with the plain implementation for any number of thresholds', () => {
  // n_h is searched four thresholds at a time: counts of 1 to 9 cover every remainder.
  for (const count of [1, 2, 3, 4, 5, 8, 9]) {
    test(`${count} threshold${count === 1 ? '' : 's'}, caller's order`, () => {
      const random = mulberry32(9000 + count);
      const model = randomModel(random, 9, 1);
      const bytes = Uint8Array.from({ length: 60 }, () => Math.floor(random() * 7));
      const thresholds = Array.from({ length: count }, () => 10 ** (-5 + 5 * random()));
      const engine = runEngine(model, bytes, thresholds, 50);
      const plain = plainQ1(model, bytes, thresholds, 50);
      assertEngineMatchesPlain(engine, plain, thresholds, 50);
      const T = thresholds.length;
      // Something is counted at some position, so the comparison is not between zeros.
      assert.ok(engine.counts.some((n, k) => n > 0 && k % 3 === 1), 'some Wh pattern is active');
      assert.ok(engine.counts.some((n, k) => n > 0 && k % 3 === 0), 'some Wx pattern is active');
      assert.equal(engine.counts.length, (bytes.length - 1) * T * CLASS_COUNT);
    });
  }
});

describe('summarizeRangeInKernel and patternPeaksInKernel equal summarizeRange and patternPeaks bit for bit', () => {
  const sameSummary = (actual: RangeSummary, expected: RangeSummary, what: string): void => {
    assertSameBits(actual.massTotal, expected.massTotal, `${what}: massTotal`);
    assertSameBits(new Uint32Array(actual.peakDepth.buffer), new Uint32Array(expected.peakDepth.buffer), `${what}: peakDepth`);
    assertSameBits(actual.depthPositions, expected.depthPositions, `${what}: depthPositions`);
    assertSameBits(actual.depthSums, expected.depthSums, `${what}: depthSums`);
    assertSameBits(actual.surprisalSum, expected.surprisalSum, `${what}: surprisalSum`);
  };
  const samePeaks = (actual: PatternPeaks, expected: PatternPeaks, what: string): void => {
    for (const cls of ['wx', 'wh', 'wy'] as const) assertSameBits(actual[cls], expected[cls], `${what}: ${cls}`);
  };

  test('on traced ranges of random models of every size, and on random peak factors', () => {
    for (const c of RANDOM_CASES) {
      const random = mulberry32(c.seed + 1);
      const model = randomModel(random, c.hidden, c.gain);
      const bytes = Uint8Array.from({ length: c.length }, () => Math.floor(random() * c.alphabet));
      const tables = traceTables(model);
      const input = { model, bytes, states: forwardStates(model, bytes), thresholds: Float32Array.from([0.01, 0.1]), dmax: c.dmax, rule: 'q1' as const };
      const what = `H=${c.hidden} Dmax=${c.dmax}`;
      const positions = bytes.length - 1;
      for (const [start, count] of [[0, positions], [1, positions - 1], [Math.floor(positions / 2), positions - Math.floor(positions / 2)]]) {
        const range = traceRange(input, tables, start, count);
        sameSummary(summarizeRangeInKernel(tables, range, c.dmax), summarizeRange(range, c.dmax), `${what} [${start}, +${count})`);
        samePeaks(patternPeaksInKernel(tables, range.peakFactors), patternPeaks(model, range.peakFactors), `${what} [${start}, +${count})`);
      }
      const factors = Float32Array.from({ length: peakFactorLength(c.hidden) }, () => (random() < 0.2 ? 0 : random() * 10 ** (8 * random() - 4)));
      samePeaks(patternPeaksInKernel(tables, factors), patternPeaks(model, factors), `${what}, random factors`);
    }
  });

  test('exact sums of float32 masses over the whole float32 range: subnormals, huge values, cancellation, ties', () => {
    const random = mulberry32(4242);
    const tables = traceTables(randomModel(random, 5, 1));
    const bits = new Uint32Array(1);
    const asFloat = new Float32Array(bits.buffer);
    /** A random finite float32: any exponent (subnormals included), either sign. */
    const anyFloat32 = (): number => {
      do bits[0] = Math.floor(random() * 2 ** 32);
      while ((bits[0] & 0x7f800000) === 0x7f800000);
      return asFloat[0];
    };
    for (const dmax of [0, 1, 2, 7, 50]) {
      for (const kind of ['any', 'positive', 'ties', 'halfway', 'cancel'] as const) {
        const start = Math.floor(random() * 60);
        const count = 1 + Math.floor(random() * 80);
        const slots = dmax + 1;
        const depthMass = new Float32Array(count * slots).fill(Number.NaN);
        for (let p = 0; p < count; p++) {
          const deepest = Math.min(start + p, dmax);
          const base = anyFloat32();
          for (let d = 0; d <= deepest; d++) {
            let mass: number;
            if (kind === 'any') mass = anyFloat32();
            else if (kind === 'positive') mass = Math.abs(anyFloat32());
            // Values 2^24 apart in size: the double sums land on half-way cases.
            else if (kind === 'ties') mass = Math.fround((d % 2 === 0 ? 1 : 2 ** -24) * (1 + (d % 3)) * 2 ** (Math.floor(random() * 40) - 20));
            // s, ±s·2^-53, ±s·2^-77: the double sum s + s·2^-53 is exactly half-way, and the third decides.
            else if (kind === 'halfway') mass = Math.abs(base) * [1, (random() < 0.5 ? 1 : -1) * 2 ** -53, (random() < 0.5 ? 1 : -1) * 2 ** -77][d % 3];
            else mass = d % 2 === 0 ? base : -base + Math.fround(base * 2 ** -23 * (random() < 0.5 ? 1 : -1));
            depthMass[p * slots + d] = mass;
          }
        }
        const surprisal = Float64Array.from({ length: count }, () => random() * 10);
        const range = { start, count, targets: new Uint8Array(count), surprisal, counts: new Uint32Array(0), depthMass, peakFactors: new Float32Array(0) };
        sameSummary(summarizeRangeInKernel(tables, range, dmax), summarizeRange(range, dmax), `${kind} masses, Dmax ${dmax}, [${start}, +${count})`);
      }
    }
  });
});

describe('kernelExp (the softmax exp in the kernel)', () => {
  test('equals Math.exp bit for bit: 4 million random arguments over the whole range, every branch edge, special values', () => {
    const random = mulberry32(2718);
    const bits = new Float64Array(1);
    const words = new Uint32Array(bits.buffer);
    const same = (x: number): void => {
      const expected = Math.exp(x);
      const actual = kernelExp(x);
      if (!Object.is(actual, expected)) assert.fail(`exp(${x}) = ${actual}, Math.exp gives ${expected}`);
    };
    // The softmax's arguments: logit - max, from 0 down to about -100.
    for (let k = 0; k < 2_000_000; k++) same(-100 * random());
    for (let k = 0; k < 1_000_000; k++) same(1500 * random() - 750);
    // Any double: random high and low words (both signs, every exponent).
    for (let k = 0; k < 1_000_000; k++) {
      words[0] = Math.floor(random() * 2 ** 32);
      words[1] = Math.floor(random() * 2 ** 32);
      same(bits[0]);
    }
    // Every branch of fdlibm's exp: 0.5·ln2, 1.5·ln2, 2^-28, the thresholds, k = ±1021, 1024, ±0, ±Infinity, NaN, and x = 1.
    const edges = [0.5 * Math.LN2, 1.5 * Math.LN2, 2 ** -28, 709.782712893384, -745.1332191019411, -708.3964185322641, -707.7, 709.7, 1, -1];
    for (const edge of edges) {
      for (const sign of [1, -1]) {
        let x = sign * edge;
        for (let step = 0; step < 64; step++) {
          same(x);
          x = nextAfter(x, step < 32 ? Infinity : -Infinity);
        }
      }
    }
    for (const x of [0, -0, Infinity, -Infinity, Number.NaN, Number.MIN_VALUE, -Number.MIN_VALUE, Number.MAX_VALUE, -Number.MAX_VALUE]) same(x);
  });
});

/** The next double after x towards `direction`. */
function nextAfter(x: number, direction: number): number {
  if (Number.isNaN(x) || x === direction) return x;
  const bits = new Float64Array([x]);
  const words = new BigInt64Array(bits.buffer);
  if (x === 0) return direction > 0 ? Number.MIN_VALUE : -Number.MIN_VALUE;
  words[0] += (x < direction) === (x > 0) ? 1n : -1n;
  return bits[0];
}

describe('forwardKernel', () => {
  test('one kernel over many windows (longer, shorter, empty) gives each window the states of a fresh forward pass', () => {
    const random = mulberry32(777);
    for (const H of [1, 5, 33, 128]) {
      const model = randomModel(random, H, 2);
      const kernel = forwardKernel(model);
      for (const length of [40, 300, 7, 0, 1100, 2]) {
        const bytes = Uint8Array.from({ length }, () => Math.floor(random() * 256));
        const fresh = createFreshStates(model, bytes);
        assertSameBits(kernel.states(bytes), fresh, `H=${H}, ${length} bytes`);
      }
    }
  });
});

/** The forward pass by a kernel made for this window alone. */
function createFreshStates(model: Model, bytes: Uint8Array): Float32Array {
  return forwardKernel(model).states(bytes);
}
