import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  forwardStates,
  modelFloatCount,
  modelFromFloats,
  patternPeaks,
  significantCounts,
  traceRange,
  traceTables,
  type Model,
} from '../src/engine/index.js';
import { exactSum } from '../src/engine/exactSum.js';
import { summarizeRange } from '../src/engine/results.js';
import {
  openDatabase,
  recordJob,
  RunWriter,
  SCHEMA_VERSION,
  schemaVersionOf,
  upgradeSchema,
  type Db,
  type RunRecord,
  type ShardResult,
} from '../src/store/index.js';
import { RUN_DEPTH_SELECT } from '../src/store/summaries.js';
import { gatherReport } from '../src/report/gather.js';
import { reportJson } from '../src/report/format.js';
import { PROJECT_ROOT, resultRows, temporaryFolder } from './cli.js';
import { FREQUENCY_TAUS } from '../src/page.js';

/** A random model with H hidden neurons (a fixed LCG, so every run of the test is the same). */
function smallModel(H: number, seed: number): Model {
  const values = new Float32Array(modelFloatCount(H));
  let state = seed;
  for (let k = 0; k < values.length; k++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    values[k] = (state / 2 ** 32 - 0.5) * 2;
  }
  return modelFromFloats(values, H);
}

const H = 5;
const model = smallModel(H, 7);
const bytes = new TextEncoder().encode('the store keeps every position once, and the summaries agree with the rows they summarize; '.repeat(2));
const TAUS = [0.001, 0.01, 0.1];
const DMAX = 12;
const thresholds = Float32Array.from(TAUS, Math.fround);
const states = forwardStates(model, bytes);
const tables = traceTables(model);

function runRecord(runId: string, depthCurves = false): RunRecord {
  return {
    runId,
    model: { sha256: `model-${H}`, path: '/models/small.bin', hidden: H, significant: significantCounts(model) },
    data: { path: '/data/text', offset: 0, length: bytes.length, sha256: 'data' },
    dmax: DMAX,
    gate: Math.fround(1e-8),
    rule: 'q1',
    taus: TAUS,
    positions: bytes.length - 1,
    depthCurves,
  };
}

/** What a worker would hand back for positions [start, start + count). */
function shard(start: number, count: number): ShardResult {
  // The activation frequencies too, as a worker counts them (runner/worker.ts).
  const range = traceRange({ model, bytes, states, thresholds, dmax: DMAX, rule: 'q1', frequencyThresholds: Float32Array.from(FREQUENCY_TAUS) }, tables, start, count);
  return { range, summary: summarizeRange(range, DMAX), peaks: patternPeaks(model, range.peakFactors), seconds: 0.001 };
}

function writerFor(db: Db, runId: string): RunWriter {
  return new RunWriter(db, { runId, hidden: H, thresholdCount: TAUS.length, dmax: DMAX });
}

const POSITIONS = bytes.length - 1;
let folder: ReturnType<typeof temporaryFolder>;
let path: string;
let db: Db;

beforeEach(() => {
  folder = temporaryFolder('store');
  path = join(folder.path, 'store.sqlite');
  db = openDatabase(path);
});
afterEach(() => {
  db.close();
  folder.remove();
});

function record(...runs: RunRecord[]): void {
  recordJob(db, { name: 'store-test', sha256: runs.map((run) => run.runId).join(','), source: null, specJson: '{}' }, runs, 'test');
}

/** Commits `cuts` (shard boundaries) in the given order, then finishes. */
function writeRun(runId: string, cuts: readonly number[], order: 'forward' | 'backward' = 'forward'): void {
  const writer = writerFor(db, runId);
  const bounds = [0, ...cuts, POSITIONS];
  const shards = bounds.slice(1).map((end, k) => [bounds[k], end - bounds[k]] as const);
  for (const [start, count] of order === 'forward' ? shards : [...shards].reverse()) writer.commit(shard(start, count));
  writer.finish();
}

describe('RunWriter.commit', () => {
  test('stores each position once with its counts at every τ, as the engine computed them', () => {
    record(runRecord('a'));
    writeRun('a', [40, 41, 100]);
    const whole = shard(0, POSITIONS);
    const counts = db.prepare('SELECT tau_index, t, n_x, n_h, n_y FROM counts WHERE run_id = ? ORDER BY t, tau_index').raw().all('a') as number[][];
    assert.equal(counts.length, POSITIONS * TAUS.length);
    counts.forEach(([k, t, nx, nh, ny], row) => {
      assert.equal(k, row % TAUS.length);
      const base = (t * TAUS.length + k) * 3;
      assert.deepEqual([nx, nh, ny], Array.from(whole.range.counts.subarray(base, base + 3)), `t=${t} τ index ${k}`);
    });
    const positions = db.prepare('SELECT t, y, surprisal_bits, mass_total, peak_d FROM positions WHERE run_id = ? ORDER BY t').all('a') as {
      t: number;
      y: number;
      surprisal_bits: number;
      mass_total: number;
      peak_d: number | null;
    }[];
    assert.deepEqual(
      positions.map((p) => [p.t, p.y, p.surprisal_bits, p.mass_total, p.peak_d]),
      Array.from({ length: POSITIONS }, (_, t) => [t, bytes[t + 1], whole.range.surprisal[t], whole.summary.massTotal[t], whole.summary.peakDepth[t] < 0 ? null : whole.summary.peakDepth[t]]),
    );
  });

  test('is atomic: a shard that fails half-way leaves none of its rows', () => {
    record(runRecord('a'));
    const writer = writerFor(db, 'a');
    writer.commit(shard(0, 50));
    const before = resultRows(path);
    // The same start again: the shards row conflicts after positions and counts were inserted.
    const overlapping = shard(50, 30);
    db.prepare(`INSERT INTO shards (run_key, start, count, seconds, committed_at, surprisal_sum, surprisal_err) VALUES (?, 50, 1, 0, 'x', 0, 0)`).run(writer.runKey);
    const afterInsert = resultRows(path);
    assert.throws(() => writer.commit(overlapping), /UNIQUE constraint failed: shards/);
    assert.equal(resultRows(path), afterInsert);
    assert.notEqual(afterInsert, before);
  });

  test('any cut into shards, committed in any order, gives identical rows and summaries', () => {
    record(runRecord('a'));
    writeRun('a', [60]);
    const reference = resultRows(path);
    for (const [cuts, order] of [
      [[1, 2, 3, 90, 150], 'backward'],
      [[17, 34, 51, 68, 85, 102, 119, 136, 153], 'forward'],
    ] as const) {
      db.close();
      folder.remove();
      folder = temporaryFolder('store');
      path = join(folder.path, 'store.sqlite');
      db = openDatabase(path);
      record(runRecord('a'));
      writeRun('a', cuts, order);
      assert.equal(resultRows(path), reference, `cuts ${cuts.join(',')} ${order}`);
    }
  });

  test('keeps per-position depth curves only when the run asks for them, and its sums equal the curves', () => {
    record(runRecord('plain'), runRecord('curves', true));
    writeRun('plain', [77]);
    writeRun('curves', [77]);
    const curveRows = db.prepare('SELECT run_id, count(*) AS n FROM depth_mass GROUP BY run_id').all() as { run_id: string; n: number }[];
    const expected = Array.from({ length: POSITIONS }, (_, t) => Math.min(t, DMAX) + 1).reduce((a, b) => a + b, 0);
    assert.deepEqual(curveRows, [{ run_id: 'curves', n: expected }]);
    const masses = db.prepare(`SELECT d, mass FROM depth_mass WHERE run_id = 'curves'`).all() as { d: number; mass: number }[];
    const sums = db
      .prepare(`SELECT sd.d, sum(sd.positions) AS positions, exact_sum(sd.mass_sum, sd.mass_err) AS mass FROM shard_depth sd JOIN runs USING (run_key) WHERE run_id = ? GROUP BY sd.d ORDER BY sd.d`)
      .all('plain') as { d: number; positions: number; mass: number }[];
    assert.equal(sums.length, DMAX + 1);
    for (const row of sums) {
      const values = masses.filter((entry) => entry.d === row.d).map((entry) => entry.mass);
      assert.equal(row.positions, values.length);
      assert.equal(row.mass, exactSum(values), `d = ${row.d}`);
    }
  });
});

describe('RunWriter.resumeState', () => {
  test('reports the committed ranges in order, the positions done and the status', () => {
    record(runRecord('a'));
    const writer = writerFor(db, 'a');
    assert.deepEqual(writer.resumeState(), { status: 'pending', committed: [], done: 0 });
    writer.commit(shard(100, 20));
    writer.commit(shard(0, 30));
    assert.deepEqual(writerFor(db, 'a').resumeState(), {
      status: 'running',
      committed: [
        { start: 0, count: 30 },
        { start: 100, count: 20 },
      ],
      done: 50,
    });
  });

  test('a new writer on a half-written run continues its pattern peaks where the last one stopped', () => {
    record(runRecord('a'), runRecord('b'));
    writeRun('a', [70]);
    const first = writerFor(db, 'b');
    first.commit(shard(0, 70));
    const second = writerFor(db, 'b');
    second.commit(shard(70, POSITIONS - 70));
    second.finish();
    const peaks = db.prepare('SELECT run_id, class, src, dst, peak FROM pattern_peaks ORDER BY class, src, dst, run_id').raw().all() as [string, ...unknown[]][];
    const ofRun = (id: string): string => JSON.stringify(peaks.filter((row) => row[0] === id).map((row) => row.slice(1)));
    assert.equal(ofRun('b'), ofRun('a'));
  });
});

describe('RunWriter.finish', () => {
  test('writes summaries equal to the same SQL over the per-position rows and shard sums, and marks the run done', () => {
    record(runRecord('a'));
    writeRun('a', [33, 150]);
    const stored = db.prepare('SELECT run_key, tau_index, positions, sum_x, sum_h, sum_y, min_n, max_n FROM run_tau_stats ORDER BY tau_index').raw().all();
    // From the per-position rows of the counts view, with SQL's own aggregates.
    const recomputed = db
      .prepare(
        `SELECT run_key, tau_index, count(*), sum(n_x), sum(n_h), sum(n_y), min(n_x + n_h + n_y), max(n_x + n_h + n_y)
         FROM counts GROUP BY run_key, tau_index ORDER BY tau_index`,
      )
      .raw()
      .all();
    assert.deepEqual(stored, recomputed);
    // The stored histograms (read through the plain-SQL view) against the positions counted by SQL.
    assert.deepEqual(
      db.prepare('SELECT tau_index, n, positions FROM run_histograms ORDER BY tau_index, n').raw().all(),
      db.prepare('SELECT tau_index, n_x + n_h + n_y AS n, count(*) FROM counts GROUP BY tau_index, n ORDER BY tau_index, n').raw().all(),
    );
    assert.deepEqual(db.prepare('SELECT * FROM run_depth ORDER BY d').raw().all(), db.prepare(`${RUN_DEPTH_SELECT('1')} ORDER BY d`).raw().all());
    assert.equal(db.prepare('SELECT count(*) FROM run_depth').pluck().get(), DMAX + 1);
    // And against the positions themselves, in TypeScript.
    const whole = shard(0, POSITIONS);
    TAUS.forEach((_, k) => {
      const n = Array.from({ length: POSITIONS }, (_, t) => {
        const base = (t * TAUS.length + k) * 3;
        return whole.range.counts[base] + whole.range.counts[base + 1] + whole.range.counts[base + 2];
      }).sort((a, b) => a - b);
      const row = db.prepare('SELECT min_n, median_n, max_n, distinct_n FROM run_tau_stats WHERE tau_index = ?').get(k) as {
        min_n: number;
        median_n: number;
        max_n: number;
        distinct_n: number;
      };
      assert.equal(row.min_n, n[0]);
      assert.equal(row.median_n, n[Math.floor((n.length - 1) / 2)]);
      assert.equal(row.max_n, n[n.length - 1]);
      assert.equal(row.distinct_n, new Set(n).size);
    });
    assert.equal(db.prepare(`SELECT status FROM runs WHERE run_id = 'a'`).pluck().get(), 'done');
  });

  test('is idempotent', () => {
    record(runRecord('a'));
    writeRun('a', []);
    const once = resultRows(path);
    writerFor(db, 'a').finish();
    assert.equal(resultRows(path), once);
  });
});

describe('report queries over summaries', () => {
  test('a selection of finished and unfinished runs reports what its per-position rows say', () => {
    record(runRecord('a'), runRecord('b'));
    writeRun('a', [90]);
    const b = writerFor(db, 'b');
    b.commit(shard(10, 61)); // b stays unfinished: its figures come from its rows
    const report = gatherReport(db, ['a', 'b']);
    const rows = db.prepare('SELECT tau, n_x, n_h, n_y FROM counts').all() as { tau: number; n_x: number; n_h: number; n_y: number }[];
    assert.equal(report.positions, POSITIONS + 61);
    report.sparsity.forEach((entry) => {
      const n = rows.filter((row) => row.tau === entry.tau).map((row) => row.n_x + row.n_h + row.n_y).sort((x, y) => x - y);
      assert.equal(entry.median, n[Math.floor((n.length - 1) / 2)], `median at τ ${entry.tau}`);
      assert.equal(entry.mean, n.reduce((x, y) => x + y, 0) / n.length);
      assert.deepEqual([entry.min, entry.max], [n[0], n[n.length - 1]]);
    });
    const surprisals = (db.prepare('SELECT surprisal_bits FROM positions').pluck().all() as number[]);
    assert.equal(report.bpc, exactSum(surprisals) / surprisals.length);
  });
});

describe('upgradeSchema', () => {
  const FIXTURE = join(PROJECT_ROOT, 'test', 'fixtures', 'v1');

  test('a new file gets the schema; a second upgrade is a no-op', () => {
    assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    assert.deepEqual(upgradeSchema(db), { from: SCHEMA_VERSION, to: SCHEMA_VERSION });
  });

  test('a 0.1.0 database keeps every row and reports what 0.1.0 reported', () => {
    const copy = join(folder.path, 'v1.sqlite');
    copyFileSync(join(FIXTURE, 'v1.sqlite3'), copy);
    assert.equal(schemaVersionOf(copy), 1);
    const old = new Database(copy, { readonly: true });
    const oldPeaks = old.prepare('SELECT run_id, class, src, dst, peak FROM pattern_peaks ORDER BY run_id, class, src, dst').raw().all();
    const oldCounts = old.prepare('SELECT run_id, tau, t, n_x, n_h, n_y FROM counts ORDER BY run_id, tau, t').raw().all();
    const oldDepth = old.prepare('SELECT run_id, d, t, mass FROM depth_mass ORDER BY run_id, d, t').raw().all();
    const oldRuns = old.prepare('SELECT run_id, status, positions FROM runs ORDER BY run_id').raw().all();
    old.close();

    const migrated = openDatabase(copy);
    try {
      assert.equal(migrated.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      assert.deepEqual(migrated.prepare('SELECT run_id, class, src, dst, peak FROM pattern_peaks ORDER BY run_id, class, src, dst').raw().all(), oldPeaks);
      assert.deepEqual(migrated.prepare('SELECT run_id, tau, t, n_x, n_h, n_y FROM counts ORDER BY run_id, tau, t').raw().all(), oldCounts);
      assert.deepEqual(migrated.prepare('SELECT run_id, d, t, mass FROM depth_mass ORDER BY run_id, d, t').raw().all(), oldDepth);
      assert.deepEqual(migrated.prepare('SELECT run_id, status, positions FROM runs ORDER BY run_id').raw().all(), oldRuns);
      const small = (migrated.prepare(`SELECT run_id FROM job_runs JOIN runs USING (run_key) JOIN jobs USING (job_id) WHERE name = 'small' ORDER BY run_order`).pluck().all() as string[]);
      const published = JSON.parse(readFileSync(join(FIXTURE, 'report-small.json'), 'utf8')) as unknown;
      // The report as the JSON format prints it (reportJson: the fields 0.1.0 printed; the Report object also holds runCount).
      assert.deepEqual(JSON.parse(JSON.stringify(reportJson(gatherReport(migrated, small)))), published);
      assert.deepEqual(migrated.pragma('foreign_key_check'), []);
    } finally {
      migrated.close();
    }
  });
});
