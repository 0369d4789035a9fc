import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CLASS_COUNT,
  ExactSum,
  forwardStates,
  patternPeaks,
  summarizeRangeInKernel,
  traceRange,
  traceTables,
  type RangeResult,
  type TraceTables,
} from '../src/engine/index.js';
import { explainPosition } from '../src/engine/explain.js';
import { mergePeakFactors } from '../src/engine/patterns.js';
import { summarizeRange } from '../src/engine/results.js';
import { peakFactorLength } from '../src/engine/trace.js';
import { BATCH_FORMAT } from '../src/queue/batches.js';
import { checkBatch } from '../src/queue/validate.js';
import { depthRowCount } from '../src/store/merge.js';
import { mergeSegment, openDatabase } from '../src/store/index.js';
import { cliHere, cliProcess, REFERENCE_POSITIONS, resultRows, SHARED_DATA, SHARED_MODEL, temporaryFolder, type CliResult } from './cli.js';
import { plainQ1 } from './plain/plainQ1.js';
import { mulberry32, randomModel } from './random-model.js';
import { computeThroughQueue } from './queue-run.js';
import { redisAvailable } from './redis.js';

/**
 * Warm windows (issue #19, item 4): a window [o, o + L) with a burn-in of B bytes
 * is read from h = 0 at o − B, and its positions t = 0 … L − 2 are traced as
 * positions B … B + L − 2 of the sequence [o − B, o + L) read cold, their traces
 * reaching back into the burn-in. Every test here is that invariant, exactly, at
 * one level: the engine against the plain implementation, the whole pipeline's
 * stored rows and summaries, the published per-position counts; then the
 * refusals, the run identity, resume and the queue.
 */

const TAUS = [1e-5, 1e-4, 1e-3, 0.01, 0.1, 1, 10];

/** A command in this process that must succeed. */
async function ok(args: readonly string[]): Promise<CliResult> {
  const result = await cliHere(args);
  assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
  return result;
}

/** Rows of a query on a database, read-only, as arrays. */
function rows(path: string, sql: string, ...params: unknown[]): unknown[][] {
  const db = openDatabase(path, { readonly: true });
  try {
    return db.prepare(sql).raw().all(...params) as unknown[][];
  } finally {
    db.close();
  }
}

/** A store's one run id. */
const onlyRun = (path: string): string => {
  const ids = rows(path, 'SELECT run_id FROM runs');
  assert.equal(ids.length, 1);
  return ids[0][0] as string;
};

describe('the engine with a burn-in equals the plain implementation over the whole sequence, bit for bit', () => {
  const CASES = [
    { hidden: 1, length: 50, burnIn: 1, dmax: 3, seed: 101, alphabet: 4, gain: 1 },
    { hidden: 3, length: 60, burnIn: 7, dmax: 20, seed: 103, alphabet: 6, gain: 2 }, // a burn-in shorter than Dmax: the ramp
    { hidden: 5, length: 80, burnIn: 9, dmax: 9, seed: 105, alphabet: 12, gain: 3 }, // burn-in = Dmax
    { hidden: 8, length: 70, burnIn: 45, dmax: 12, seed: 108, alphabet: 256, gain: 1 }, // longer than Dmax
    { hidden: 17, length: 40, burnIn: 200, dmax: 50, seed: 117, alphabet: 9, gain: 1 }, // longer than the window
    { hidden: 33, length: 60, burnIn: 30, dmax: 0, seed: 133, alphabet: 20, gain: 2 }, // Dmax 0
    { hidden: 3, length: 600, burnIn: 20, dmax: 40, seed: 203, alphabet: 5, gain: 1 }, // past one kernel chunk (512 positions)
    { hidden: 128, length: 40, burnIn: 25, dmax: 20, seed: 1128, alphabet: 24, gain: 1 },
  ];

  for (const c of CASES) {
    test(`H=${c.hidden} window ${c.length} burn-in ${c.burnIn} Dmax=${c.dmax} seed=${c.seed}`, () => {
      const random = mulberry32(c.seed);
      const model = randomModel(random, c.hidden, c.gain);
      const sequence = Uint8Array.from({ length: c.burnIn + c.length }, () => Math.floor(random() * c.alphabet));
      const thresholds = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1].map((tau) => tau * (0.5 + random()));
      const T = thresholds.length;
      const positions = c.length - 1;
      const B = c.burnIn;

      // Plain: the whole sequence cold; the window's positions are its positions B … B + L − 2, and their peaks are over those alone.
      const peaks = { wx: new Float32Array(c.hidden * 256), wh: new Float32Array(c.hidden * c.hidden), wy: new Float32Array(256 * c.hidden) };
      const plain = plainQ1(model, sequence, thresholds, c.dmax, (t, attributions) => {
        if (t < B) return;
        for (const cls of ['wx', 'wh', 'wy'] as const) attributions[cls].forEach((a, k) => (peaks[cls][k] = Math.max(peaks[cls][k], a)));
      });

      // Engine: the window's positions 0 … L − 2 with the burn-in, in shards as the runner cuts them.
      const states = forwardStates(model, sequence);
      const input = { model, bytes: sequence, states, thresholds: Float32Array.from(thresholds), dmax: c.dmax, rule: 'q1' as const, burnIn: B };
      const tables = traceTables(model);
      const bounds = [0, 1, Math.floor(positions / 3), positions].filter((s, k, all) => all.indexOf(s) === k);
      const peakFactors = new Float32Array(peakFactorLength(c.hidden));
      for (let r = 0; r + 1 < bounds.length; r++) {
        const range = traceRange(input, tables, bounds[r], bounds[r + 1] - bounds[r]);
        assert.equal(range.start, bounds[r], 'a range keeps the window numbering');
        assert.equal(range.burnIn, B);
        for (let p = 0; p < range.count; p++) {
          const t = range.start + p;
          assert.equal(range.targets[p], plain.targets[B + t], `target at t=${t}`);
          assert.ok(Object.is(range.surprisal[p], plain.surprisal[B + t]), `surprisal at t=${t}`);
          for (let k = 0; k < T; k++) {
            const got = Array.from(range.counts.subarray((p * T + k) * CLASS_COUNT, (p * T + k + 1) * CLASS_COUNT));
            assert.deepEqual(got, plain.counts[B + t][k], `n_x n_h n_y at t=${t} τ=${thresholds[k]}`);
          }
          for (let d = 0; d <= c.dmax; d++) {
            const got = range.depthMass[p * (c.dmax + 1) + d];
            assert.ok(Object.is(got, plain.depthMass[B + t][d]), `depth mass at t=${t} d=${d}: ${got}, plain ${plain.depthMass[B + t][d]}`);
          }
        }
        // The summaries (total mass, peak offset, per-offset positions and exact sums): the kernel's and the plain JavaScript's, alike.
        sameSummary(tables, range, c.dmax, `[${range.start}, +${range.count})`);
        mergePeakFactors(peakFactors, range.peakFactors);
      }
      const enginePeaks = patternPeaks(model, peakFactors);
      for (const cls of ['wx', 'wh', 'wy'] as const) {
        const k = enginePeaks[cls].findIndex((value, index) => !Object.is(value, peaks[cls][index]));
        assert.equal(k, -1, `${cls} peak ${k}: ${enginePeaks[cls][k]}, plain ${peaks[cls][k]}`);
      }

      // explain, pattern by pattern, at a few positions: the plain attributions of positions B + t.
      for (const t of [0, 1, Math.floor(positions / 2), positions - 1]) {
        const explanation = explainPosition({ model, bytes: sequence, states, t, dmax: c.dmax, rule: 'q1', burnIn: B });
        assert.equal(explanation.t, t);
        assert.equal(explanation.depth, Math.min(c.dmax, t + B));
        assert.deepEqual([...explanation.depthMass], plain.depthMass[B + t].slice(0, explanation.depth + 1), `explain: depth mass at t=${t}`);
        const counts = thresholds.map((tau) => {
          const above = explanation.patterns.filter((p) => p.attribution > Math.fround(tau));
          return ['wx', 'wh', 'wy'].map((cls) => above.filter((p) => p.cls === cls).length);
        });
        assert.deepEqual(counts, plain.counts[B + t], `explain: counts at t=${t}`);
      }
    });
  }

  /** The kernel's summary of a warm range equals the JavaScript one, and its per-offset positions count t + B ≥ d. */
  function sameSummary(tables: TraceTables, range: RangeResult, dmax: number, what: string): void {
    const kernel = summarizeRangeInKernel(tables, range, dmax);
    const plain = summarizeRange(range, dmax);
    for (const key of ['massTotal', 'peakDepth', 'depthPositions', 'depthSums', 'surprisalSum'] as const) {
      const k = (kernel[key] as ArrayLike<number>).length === plain[key].length ? [...kernel[key]].findIndex((v, i) => !Object.is(v, plain[key][i])) : -2;
      assert.equal(k, -1, `${what}: ${key}[${k}]`);
    }
    const B = range.burnIn ?? 0;
    for (let d = 0; d <= dmax; d++) {
      let expected = 0;
      for (let p = 0; p < range.count; p++) if (range.start + p + B >= d) expected++;
      assert.equal(kernel.depthPositions[d], expected, `${what}: positions at d=${d}`);
    }
  }

  test('depth rows of a warm run with curves: every position t at every d ≤ min(t + B, Dmax)', () => {
    for (const [positions, dmax, burnIn] of [[59, 9, 0], [59, 9, 3], [59, 9, 9], [59, 9, 40], [5, 9, 2], [1, 0, 7], [30, 50, 100]]) {
      let expected = 0;
      for (let t = 0; t < positions; t++) expected += Math.min(t + burnIn, dmax) + 1;
      assert.equal(depthRowCount(positions, dmax, burnIn), expected, `${positions} positions, Dmax ${dmax}, burn-in ${burnIn}`);
    }
  });
});

describe('a warm window through the pipeline equals positions B … B + L − 2 of a cold run over [o − B, o + L)', () => {
  const folder = temporaryFolder('burn-in');
  after(() => folder.remove());
  const common = ['--model', SHARED_MODEL, '--data', SHARED_DATA, '--tau', TAUS.join(','), '--depth-curves', '--no-report', '--threads', '2'];

  for (const { offset, length, burnIn, dmax, shard } of [
    { offset: 600, length: 300, burnIn: 150, dmax: 50, shard: 64 },
    { offset: 40, length: 200, burnIn: 7, dmax: 20, shard: 33 }, // a burn-in shorter than Dmax
    { offset: 1, length: 120, burnIn: 1, dmax: 5, shard: 1000 },
  ]) {
    test(`window [${offset}, ${offset + length}), burn-in ${burnIn}, Dmax ${dmax}: every stored row, count at every τ, summary and figure`, async () => {
      const warm = join(folder.path, `warm-${offset}.sqlite`);
      const cold = join(folder.path, `cold-${offset}.sqlite`);
      const dmaxArgs = ['--dmax', String(dmax), '--shard-size', String(shard)];
      await ok(['run', ...common, ...dmaxArgs, '--offset', String(offset), '--length', String(length), '--burn-in', String(burnIn), '--db', warm]);
      await ok(['run', ...common, ...dmaxArgs, '--offset', String(offset - burnIn), '--length', String(length + burnIn), '--db', cold]);
      const B = burnIn;
      const positions = length - 1;
      assert.deepEqual(rows(warm, 'SELECT data_offset, data_length, burn_in, positions, status FROM runs'), [[offset, length, burnIn, positions, 'done']]);
      assert.deepEqual(rows(cold, 'SELECT burn_in FROM runs'), [[0]]);
      // The bytes the warm run read are the cold run's: one hash.
      assert.deepEqual(rows(warm, 'SELECT data_sha256 FROM runs'), rows(cold, 'SELECT data_sha256 FROM runs'));

      // Every per-position row, exactly (REALs compared as SQLite returns them: the stored doubles).
      const shifted = (sql: string): unknown[][] => rows(cold, sql, B, B);
      assert.deepEqual(
        rows(warm, 'SELECT t, y, surprisal_bits, mass_total, peak_d FROM positions ORDER BY t'),
        shifted('SELECT t - ?, y, surprisal_bits, mass_total, peak_d FROM positions WHERE t >= ? ORDER BY t'),
      );
      const counts = rows(warm, 'SELECT tau_f32, t, n_x, n_h, n_y FROM counts ORDER BY tau_index, t');
      assert.equal(counts.length, positions * TAUS.length);
      assert.deepEqual(counts, shifted('SELECT tau_f32, t - ?, n_x, n_h, n_y FROM counts WHERE t >= ? ORDER BY tau_index, t'));
      const depth = rows(warm, 'SELECT d, t, mass FROM depth_mass ORDER BY t, d');
      assert.equal(depth.length, depthRowCount(positions, dmax, B));
      assert.deepEqual(depth, shifted('SELECT d, t - ?, mass FROM depth_mass WHERE t >= ? ORDER BY t, d'));

      // The run's summaries: per τ (positions, sums, min, median, max) and the depth profile's exact sums, from the cold rows of t ≥ B.
      const stats = rows(warm, 'SELECT s.positions, s.sum_x, s.sum_h, s.sum_y, s.min_n, s.median_n, s.max_n FROM run_tau_stats s ORDER BY s.tau_index');
      const expectedStats = TAUS.map((_, k) => {
        const at = rows(cold, 'SELECT n_x, n_h, n_y FROM counts WHERE tau_index = ? AND t >= ? ORDER BY t', k, B) as number[][];
        const n = at.map(([x, h, y]) => x + h + y).sort((a, b) => a - b);
        const sum = (c: number): number => at.reduce((s, row) => s + row[c], 0);
        return [at.length, sum(0), sum(1), sum(2), n[0], n[Math.floor((n.length - 1) / 2)], n[n.length - 1]];
      });
      assert.deepEqual(stats, expectedStats);
      const profile = rows(warm, 'SELECT d, positions, mass_sum, mass_err FROM run_depth ORDER BY d');
      assert.equal(profile.length, Math.min(positions - 1 + B, dmax) + 1);
      const expectedProfile = profile.map(([d]) => {
        const masses = rows(cold, 'SELECT mass FROM depth_mass WHERE d = ? AND t >= ?', d, B).map(([mass]) => mass as number);
        const sum = new ExactSum();
        for (const mass of masses) sum.add(mass);
        return [d, masses.length, ...sum.split()];
      });
      assert.deepEqual(profile, expectedProfile);
      const bpc = (path: string, from: number): number[] => {
        const sum = new ExactSum();
        const values = rows(path, 'SELECT surprisal_bits FROM positions WHERE t >= ?', from).map(([bits]) => bits as number);
        for (const bits of values) sum.add(bits);
        return [values.length, ...sum.split()];
      };
      assert.deepEqual(bpc(warm, 0), bpc(cold, B));

      // explain recomputes the warm position from the burn-in: its counts are the stored ones, and its depth reaches into the burn-in.
      const t = Math.min(3, positions - 1);
      const explained = JSON.parse((await ok(['explain', '--db', warm, '--run', onlyRun(warm), '--t', String(t), '--format', 'json'])).stdout) as {
        run: { burn_in: number };
        depth_mass: number[];
        counts: { n_x: number; n_h: number; n_y: number; stored: { n_x: number; n_h: number; n_y: number } }[];
      };
      assert.equal(explained.run.burn_in, B);
      assert.equal(explained.depth_mass.length, Math.min(t + B, dmax) + 1);
      for (const row of explained.counts) assert.deepEqual([row.n_x, row.n_h, row.n_y], [row.stored.n_x, row.stored.n_h, row.stored.n_y]);
      const text = (await ok(['explain', '--db', warm, '--run', onlyRun(warm), '--t', String(t)])).stdout;
      assert.match(text, new RegExp(`^Run ${onlyRun(warm)} \\(Dmax ${dmax}, burn-in ${B}\\), position t = ${t}:`));
    });
  }

  test('a report of a cold and a warm run of one window never pools them: one group per burn-in, with a note', async () => {
    const db = join(folder.path, 'mixed.sqlite');
    const window = ['--model', SHARED_MODEL, '--data', SHARED_DATA, '--offset', '300', '--length', '200', '--dmax', '20', '--tau', '0.01,0.1', '--no-report', '--db', db];
    await ok(['run', ...window]);
    await ok(['run', ...window, '--burn-in', '100']);
    const [cold, warm] = rows(db, 'SELECT run_id FROM runs ORDER BY run_key').map(([id]) => id as string);
    assert.notEqual(cold, warm);
    const both = await ok(['report', '--all', '--db', db, '--format', 'json']);
    assert.match(both.stderr, /the selected runs use 2 burn-ins \(0, 100 bytes read before each window\): one row per burn-in/);
    type Group = { group: string | number; runs: string[]; sparsity: unknown; depth: unknown };
    const report = JSON.parse(both.stdout) as { by: unknown; groups: Group[] };
    assert.equal(report.by, 'burn_in');
    assert.deepEqual(report.groups.map((group) => [group.group, group.runs]), [[0, [cold]], [100, [warm]]]);
    for (const [k, run] of [cold, warm].entries()) {
      const alone = JSON.parse((await ok(['report', '--run', run, '--db', db, '--format', 'json'])).stdout) as Group;
      assert.deepEqual([report.groups[k].sparsity, report.groups[k].depth], [alone.sparsity, alone.depth], run);
    }
    assert.notDeepEqual(report.groups[0].depth, report.groups[1].depth);
    // The text report says the split too; `runs` shows the burn-in column once a run has one; the page's runs table names it.
    assert.match((await ok(['report', '--all', '--db', db])).stderr, /one row per burn-in/);
    const runs = (await ok(['runs', '--db', db])).stdout;
    assert.match(runs.split('\n')[0], /length {2}burn-in {2}Dmax/);
    assert.deepEqual(
      runs.split('\n').slice(2, 4).map((line) => line.split(/\s+/)[7]),
      ['0', '100'],
    );
    const page = join(folder.path, 'mixed.html');
    await ok(['report', '--all', '--db', db, '--format', 'html', '--out', page]);
    assert.ok(readFileSync(page, 'utf8').includes('enwik_1024.txt@300+200, burn-in 100'));
    // A merge (what serve does with a worker's segment) keeps each run's burn-in, and its rows.
    const merged = join(folder.path, 'merged.sqlite');
    const handle = openDatabase(merged);
    try {
      assert.equal(mergeSegment(handle, db).merged.length, 2);
    } finally {
      handle.close();
    }
    assert.deepEqual(rows(merged, 'SELECT run_id, burn_in FROM runs ORDER BY run_id'), rows(db, 'SELECT run_id, burn_in FROM runs ORDER BY run_id'));
    assert.equal(resultRows(merged), resultRows(db));
  });
});

describe('the published per-position counts, for a window warmed by the bytes before it', () => {
  const folder = temporaryFolder('burn-in-reference');
  after(() => folder.remove());
  /** The reference's n_x n_h n_y by "t tau". */
  const reference = new Map<string, number[]>();
  before(() => {
    const lines = readFileSync(REFERENCE_POSITIONS, 'utf8').trim().split('\n');
    assert.equal(lines[0], 't\ty\ttau\tn_x\tn_h\tn_y');
    for (const line of lines.slice(1)) {
      const [t, , tau, nx, nh, ny] = line.split('\t');
      reference.set(`${Number(t)} ${Math.fround(Number(tau))}`, [Number(nx), Number(nh), Number(ny)]);
    }
    assert.equal(reference.size, 1023 * TAUS.length);
  });

  for (const B of [1, 50, 300, 1000]) {
    test(`the shipped data at offset ${B} with burn-in ${B} (window [${B}, 1024)) has the published counts of positions ${B} … 1022`, async () => {
      const db = join(folder.path, `ref-${B}.sqlite`);
      await ok(['run', 'jobs/q1-sparsity.json', '--model', SHARED_MODEL, '--data', SHARED_DATA, '--offset', String(B), '--length', String(1024 - B), '--burn-in', String(B), '--db', db, '--no-report']);
      assert.deepEqual(rows(db, 'SELECT data_offset, data_length, burn_in, dmax, status FROM runs'), [[B, 1024 - B, B, 50, 'done']]);
      const stored = rows(db, 'SELECT t, tau_f32, n_x, n_h, n_y FROM counts ORDER BY t, tau_index') as number[][];
      assert.equal(stored.length, (1023 - B) * TAUS.length);
      for (const [t, tau, ...counts] of stored) assert.deepEqual(counts, reference.get(`${t + B} ${tau}`), `t=${t} (published t=${t + B}) τ=${tau}`);
      // Targets: the window's own bytes, x_{t+1}.
      const data = readFileSync(SHARED_DATA);
      assert.deepEqual(rows(db, 'SELECT y FROM positions ORDER BY t').map(([y]) => y), [...data.subarray(B + 1, 1024)]);
    });
  }
});

describe('refusals: a bad burn-in exits 2 with one line naming it, before anything is computed', () => {
  const folder = temporaryFolder('burn-in-refusals');
  after(() => folder.remove());
  const db = join(folder.path, 'kept.sqlite');
  const window = ['--model', SHARED_MODEL, '--data', SHARED_DATA, '--length', '100', '--dmax', '10', '--tau', '0.01', '--db', db, '--no-report'];
  before(async () => {
    await ok(['run', ...window, '--offset', '200']);
  });

  /** A refused command: exit 2, one line on stderr matching `pattern`, the database as it was. */
  async function refused(args: readonly string[], pattern: RegExp): Promise<void> {
    const before = resultRows(db);
    const result = await cliHere(args);
    assert.equal(result.code, 2, result.stderr);
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0], pattern);
    assert.equal(resultRows(db), before, 'nothing computed lost, nothing added');
  }

  test('--burn-in negative or not an integer', async () => {
    await refused(['run', ...window, '--offset', '200', '--burn-in', '-1'], /--burn-in: must be an integer ≥ 0, got -1/);
    await refused(['run', ...window, '--offset', '200', '--burn-in', '2.5'], /--burn-in: must be an integer ≥ 0, got 2\.5/);
    await refused(['run', ...window, '--offset', '200', '--burn-in', 'many'], /--burn-in: must be an integer ≥ 0, got something that is not a number/);
    await refused(['plan', ...window.filter((arg) => arg !== '--no-report'), '--offset', '200', '--burn-in', '-4'], /--burn-in: must be an integer ≥ 0, got -4/);
  });

  test('a burn-in larger than the window offset: the numbers, and the file', async () => {
    await refused(
      ['run', ...window, '--offset', '200', '--burn-in', '250'],
      new RegExp(`^sparsetrace: command line: --burn-in: a burn-in of 250 bytes is larger than the window's offset 200: it would start 50 bytes before the start of ${SHARED_DATA}; use at most 200, or a window at offset ≥ 250$`),
    );
    await refused(['run', ...window, '--burn-in', '1'], /a burn-in of 1 bytes is larger than the window's offset 0: it would start 1 bytes before the start of/);
    await refused(['plan', ...window.filter((arg) => arg !== '--no-report'), '--offset', '10', '--burn-in', '11'], /--burn-in: a burn-in of 11 bytes is larger than the window's offset 10/);
  });

  test('in a job file: "burnIn" negative, not an integer, or before the file\'s start; --offset moving a window below it', async () => {
    const job = (name: string, burnIn: unknown, offset = 300): string => {
      const path = join(folder.path, `${name}.json`);
      writeFileSync(path, JSON.stringify({ name, models: [SHARED_MODEL], data: [{ path: SHARED_DATA, offset, length: 100, burnIn }], dmax: [10], tau: [0.01] }));
      return path;
    };
    const run = (path: string, ...more: string[]): string[] => ['run', path, '--db', db, '--no-report', ...more];
    await refused(run(job('negative', -3)), /job file .*negative\.json: data\[0\]\.burnIn: must be an integer ≥ 0, got -3$/);
    await refused(run(job('fraction', 0.5)), /data\[0\]\.burnIn: must be an integer ≥ 0, got 0\.5$/);
    await refused(run(job('text', '10')), /data\[0\]\.burnIn: must be an integer ≥ 0, got "10"$/);
    await refused(run(job('early', 400)), /data\[0\]\.burnIn: a burn-in of 400 bytes is larger than the window's offset 300: it would start 100 bytes before the start of /);
    await refused(run(job('moved', 200), '--offset', '150'), /data\[0\]\.burnIn \(with --offset 150\): a burn-in of 200 bytes is larger than the window's offset 150/);
  });
});

describe('the run identity carries the burn-in; at 0 it is what it always was', () => {
  const folder = temporaryFolder('burn-in-identity');
  after(() => folder.remove());
  const db = join(folder.path, 'identity.sqlite');
  const window = ['--model', SHARED_MODEL, '--data', SHARED_DATA, '--offset', '200', '--length', '80', '--dmax', '10', '--tau', '0.001,0.01', '--db', db, '--no-report'];
  /** Positions of the window's run that `plan` finds stored with these flags. */
  const planned = async (flags: string[]): Promise<number> => {
    const result = await ok(['plan', ...window.filter((arg) => arg !== '--no-report'), ...flags, '--format', 'json']);
    return (JSON.parse(result.stdout) as { positions: { stored: number } }).positions.stored;
  };

  test('--burn-in 0 and a job file\'s "burnIn": 0 are the cold run, with the identity it always had; 1 and 2 are other runs', async () => {
    await ok(['run', ...window]);
    await ok(['run', ...window, '--burn-in', '0']);
    const job = join(folder.path, 'zero.json');
    writeFileSync(job, JSON.stringify({ name: 'zero', models: [SHARED_MODEL], data: [{ path: SHARED_DATA, offset: 200, length: 80, burnIn: 0 }], dmax: [10], tau: [0.001, 0.01] }));
    await ok(['run', job, '--db', db, '--no-report']);
    const [cold] = rows(db, 'SELECT run_id, data_sha256, burn_in FROM runs') as [string, string, number][];
    assert.equal(rows(db, 'SELECT count(*) FROM runs')[0][0], 1);
    assert.equal(cold[2], 0);
    const model = rows(db, 'SELECT model_sha256 FROM models')[0][0] as string;
    const canonical = JSON.stringify({ computation: 'q1-sparsity/1 (fdlibm tanhf)', model, data: cold[1], dmax: 10, gate: Math.fround(1e-8), taus: [0.001, 0.01].map(Math.fround) });
    assert.equal(cold[0], createHash('sha256').update(canonical).digest('hex').slice(0, 16));
    // The jobs' specs say nothing of a burn-in of 0 (a job recorded before burn-ins reads the same).
    for (const [spec] of rows(db, 'SELECT spec_json FROM jobs') as [string][]) assert.ok(!spec.includes('burnIn'), spec);
    assert.deepEqual(rows(db, 'SELECT name FROM jobs ORDER BY job_id').map(([name]) => name), ['sat_model-enwik_1024@200+80-dmax10', 'zero']);

    assert.deepEqual([await planned([]), await planned(['--burn-in', '1'])], [79, 0]);
    await ok(['run', ...window, '--burn-in', '1']);
    await ok(['run', ...window, '--burn-in', '2']);
    const runs = rows(db, 'SELECT run_id, burn_in, data_sha256 FROM runs ORDER BY run_key') as [string, number, string][];
    assert.deepEqual(runs.map(([, burnIn]) => burnIn), [0, 1, 2]);
    assert.equal(new Set(runs.map(([id]) => id)).size, 3);
    // A warm run hashes the bytes it read (burn-in and window) and the burn-in.
    const data = readFileSync(SHARED_DATA);
    for (const [id, burnIn, sha] of runs.slice(1)) {
      assert.equal(sha, createHash('sha256').update(data.subarray(200 - burnIn, 280)).digest('hex'));
      const text = JSON.stringify({ computation: 'q1-sparsity/1 (fdlibm tanhf)', model, data: sha, burnIn, dmax: 10, gate: Math.fround(1e-8), taus: [0.001, 0.01].map(Math.fround) });
      assert.equal(id, createHash('sha256').update(text).digest('hex').slice(0, 16));
    }
    assert.deepEqual([await planned(['--burn-in', '1']), await planned(['--burn-in', '2']), await planned(['--burn-in', '3'])], [79, 79, 0]);
    assert.deepEqual(rows(db, 'SELECT name FROM jobs ORDER BY job_id').map(([name]) => name).slice(2), ['sat_model-enwik_1024@200+80-dmax10-burnin1', 'sat_model-enwik_1024@200+80-dmax10-burnin2']);
  });

  test('plan counts a burn-in: the same positions; the chain steps reach t + B, and the B bytes cost a forward step each', async () => {
    // Costs given rather than measured: a measured per-step cost can come out 0 on a loaded machine (max(0, deep − base)),
    // and then no step count can be read back from the plan. Powers of two, so the arithmetic below is exact.
    const engineCost = { base: 2 ** -14, perDepth: 2 ** -17, perByte: 2 ** -19, seconds: 0, cpuShare: 1 };
    /** Positions, and the chain steps plan's time model charges (its compute seconds less the per-position and burn-in parts, over the per-step cost). */
    const planned = async (flags: string[], burnIn: number): Promise<{ positions: number; steps: number }> => {
      const args = ['plan', '--model', SHARED_MODEL, '--data', SHARED_DATA, '--offset', '200', '--length', '80', '--dmax', '10', '--tau', '0.001,0.01', '--db', join(folder.path, 'empty.sqlite')];
      const result = await cliHere([...args, ...flags, '--format', 'json'], { planEngineCost: engineCost });
      assert.equal(result.code, 0, result.stderr);
      const plan = JSON.parse(result.stdout) as {
        positions: { total: number };
        time: { computeSeconds: number; engine: { base: number; perDepth: number; perByte: number } };
      };
      const { computeSeconds, engine } = plan.time;
      assert.deepEqual(engine, engineCost);
      return { positions: plan.positions.total, steps: (computeSeconds - plan.positions.total * engine.base - burnIn * engine.perByte) / engine.perDepth };
    };
    const cold = await planned([], 0);
    const warm = await planned(['--burn-in', '150'], 150);
    assert.deepEqual([cold.positions, warm.positions], [79, 79]);
    // Σ_{t<79} min(t, 10) = 55 + 68·10 = 735; Σ_{t<79} min(t + 150, 10) = 790 (and 150 forward steps, measured apart).
    assert.ok(Math.abs(cold.steps - 735) < 1e-6, String(cold.steps));
    assert.ok(Math.abs(warm.steps - 790) < 1e-6, String(warm.steps));
  });
});

describe('resume and the queue keep the burn-in', () => {
  const folder = temporaryFolder('burn-in-resume');
  after(() => folder.remove());

  test('a warm job interrupted and resumed: the rows of an uninterrupted one, its burn-in read back from the job', async () => {
    const job = join(folder.path, 'warm.json');
    writeFileSync(job, JSON.stringify({ name: 'warm', models: [SHARED_MODEL], data: [{ path: SHARED_DATA, offset: 400, length: 600, burnIn: 390 }], dmax: [50], tau: TAUS }));
    const whole = join(folder.path, 'whole.sqlite');
    await ok(['run', job, '--db', whole, '--no-report']);
    const db = join(folder.path, 'interrupted.sqlite');
    const child = cliProcess(['run', job, '--db', db, '--no-report', '--threads', '1', '--shard-size', '8']);
    const exited = new Promise((done) => child.once('exit', done));
    for (let k = 0; k < 5000; k++) {
      await new Promise((done) => setTimeout(done, 2));
      try {
        if ((rows(db, 'SELECT count(*) FROM shards')[0][0] as number) >= 3) break;
      } catch {
        // not created yet
      }
    }
    child.kill('SIGTERM');
    await exited;
    const committed = rows(db, 'SELECT coalesce(sum(count), 0) FROM shards')[0][0] as number;
    assert.ok(committed > 0 && committed < 599, `interrupted part way: ${committed} of 599 positions`);
    const resumed = await ok(['resume', '--db', db, '--no-report']);
    assert.match(resumed.stderr, /resuming job 1 \(warm\)/);
    assert.deepEqual(rows(db, 'SELECT name FROM jobs'), [['warm']], 'the same job, not another (which a spec without its burn-in would expand to)');
    assert.deepEqual(rows(db, 'SELECT run_id, burn_in, status FROM runs'), rows(whole, 'SELECT run_id, burn_in, status FROM runs'));
    assert.equal(resultRows(db), resultRows(whole));
  });

  const run = (data: Record<string, unknown>) => ({
    runId: 'a'.repeat(16),
    model: { sha256: 'b'.repeat(64), path: SHARED_MODEL, hidden: 128, significant: { wx: 1, wh: 1, wy: 1, total: 3 } },
    data: { path: SHARED_DATA, offset: 100, length: 60, sha256: 'c'.repeat(64), ...data },
    dmax: 9,
    gate: Math.fround(1e-8),
    taus: [0.1],
    positions: 59,
    depthCurves: false,
    rule: 'q1',
  });
  const batch = (data: Record<string, unknown>) => ({ format: BATCH_FORMAT, job: 'd'.repeat(64), runs: [run(data)] });

  test("a batch's burn-in is checked like its other fields: an integer from 0 to the window's offset (absent: 0)", () => {
    assert.equal(checkBatch('b1', batch({ burnIn: 100 })).runs[0].data.burnIn, 100);
    assert.equal(checkBatch('b1', batch({ burnIn: 0 })).runs[0].data.burnIn, 0);
    assert.equal(checkBatch('b1', batch({})).runs[0].data.burnIn, undefined);
    for (const bad of [-1, 101, 2.5, '5', null]) {
      assert.throws(() => checkBatch('b1', batch({ burnIn: bad })), (error: Error) => error.message.includes(`batch b1: refused: runs[0].data.burnIn ${JSON.stringify(String(bad))} is not an integer from 0 to 100`), String(bad));
    }
  });

  test('serve and a worker compute a warm job as one process does', { skip: redisAvailable() ? false : 'redis-server is not installed (.ci/run installs it)' }, async () => {
    const job = join(folder.path, 'warm-queue.json');
    writeFileSync(job, JSON.stringify({ name: 'warm-queue', models: [SHARED_MODEL], data: [{ path: SHARED_DATA, offset: 120, length: 60, stride: 100, count: 4, burnIn: 90 }], dmax: [9], tau: [0.001, 0.01] }));
    const single = join(folder.path, 'single.sqlite');
    await ok(['run', job, '--db', single, '--no-report']);
    assert.deepEqual(rows(single, 'SELECT DISTINCT burn_in FROM runs'), [[90]]);
    const merged = await computeThroughQueue(job, folder.path);
    assert.equal(resultRows(merged), resultRows(single));
    const runs = (path: string): unknown[][] => rows(path, 'SELECT run_id, data_offset, burn_in, data_sha256 FROM runs ORDER BY run_id');
    assert.deepEqual(runs(merged), runs(single));
  });
});
