import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  forwardStates,
  frequencyLength,
  patternPeaks,
  significantCounts,
  traceRange,
  traceTables,
  type Model,
} from '../src/engine/index.js';
import { summarizeRange } from '../src/engine/results.js';
import { packShard, unpackShard, type ShardShape } from '../src/runner/codec.js';
import { openDatabase, recordJob, RunWriter, type Db, type RunRecord, type ShardResult } from '../src/store/index.js';
import { codePointsOf } from '../src/store/codePoints.js';
import { frequencyRowAt, frequencyRowCount } from '../src/store/frequencyLayout.js';
import { shardRowsOf } from '../src/store/shardRows.js';
import { tauStatsOfRun } from '../src/store/tauStats.js';
import { activeByRank } from '../src/store/levels.js';
import { rebuildJobRollups, rollUp, runLevels } from '../src/store/rollups.js';
import { CorruptStoreError } from '../src/errors.js';
import { FREQUENCY_TAUS } from '../src/page.js';
import { temporaryFolder } from './cli.js';
import { mulberry32, randomModel } from './random-model.js';

/**
 * The writer with its rows made in the worker (ShardRows through the codec):
 * the same rows in every table as when the writer makes them itself, for any cut
 * of a run into shards, any order, a resumed run and a failed commit; the
 * summaries it adds up as shards commit are those of the count blocks.
 */

const TAUS = [1e-4, 0.001, 0.01, 0.1];
const DMAX = 9;
const thresholds = Float32Array.from(TAUS, Math.fround);

interface Case {
  readonly model: Model;
  readonly bytes: Uint8Array;
  readonly states: Float32Array;
  readonly tables: ReturnType<typeof traceTables>;
}

function randomCase(seed: number): Case {
  const random = mulberry32(seed);
  const H = 3 + Math.floor(random() * 6);
  const model = randomModel(random, H, 0.5 + 2 * random());
  const bytes = Uint8Array.from({ length: 60 + Math.floor(random() * 90) }, () => 32 + Math.floor(random() * 40));
  return { model, bytes, states: forwardStates(model, bytes), tables: traceTables(model) };
}

function runRecord(c: Case, runId: string, depthCurves: boolean): RunRecord {
  return {
    runId,
    model: { sha256: `model-${runId}`, path: `/models/${runId}.bin`, hidden: c.model.hidden, significant: significantCounts(c.model) },
    data: { path: `/data/${runId}`, offset: 0, length: c.bytes.length, sha256: `data-${runId}` },
    dmax: DMAX,
    gate: Math.fround(1e-8),
    rule: 'q1',
    taus: TAUS,
    positions: c.bytes.length - 1,
    depthCurves,
  };
}

/** A shard as a worker traces it; `viaCodec`: packed and unpacked as it travels (its rows made there), else as the writer got it before. */
function shardOf(c: Case, start: number, count: number, depthCurves: boolean, viaCodec: boolean): ShardResult {
  const { model, bytes, states, tables } = c;
  const range = traceRange({ model, bytes, states, thresholds, dmax: DMAX, rule: 'q1', frequencyThresholds: Float32Array.from(FREQUENCY_TAUS) }, tables, start, count);
  const shard = { range, summary: summarizeRange(range, DMAX), peaks: patternPeaks(model, range.peakFactors), seconds: 0.001 };
  if (!viaCodec) return shard;
  const shape: ShardShape = { count, thresholds: TAUS.length, dmax: DMAX, hidden: model.hidden, depthCurves, frequencies: FREQUENCY_TAUS.length };
  return unpackShard(packShard(shard, shape), start, shape, shard.seconds);
}

/** Every table's rows, sorted, without the columns that say when or how long. */
function tableRows(db: Db): Record<string, unknown[][]> {
  const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'wal_guard' ORDER BY name`).pluck().all() as string[];
  const rows: Record<string, unknown[][]> = {};
  for (const table of tables) {
    const columns = (db.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(table) as string[]).filter((name) => !/(_at$|seconds|tool_version)/.test(name));
    const all = db.prepare(`SELECT ${columns.map((name) => `"${name}"`).join(', ')} FROM "${table}"`).raw().all() as unknown[][];
    rows[table] = all.map((row) => row.map((value) => (Buffer.isBuffer(value) ? `x'${value.toString('hex')}'` : value))).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
  }
  return rows;
}

let folder: ReturnType<typeof temporaryFolder>;
beforeEach(() => {
  folder = temporaryFolder('writer');
});
afterEach(() => folder.remove());

/** A fresh store holding the runs. */
function storeWith(name: string, runs: readonly RunRecord[]): Db {
  const db = openDatabase(join(folder.path, `${name}.sqlite`));
  recordJob(db, { name: 'writer-test', sha256: runs.map((run) => run.runId).join(','), source: null, specJson: '{}' }, runs, 'test');
  return db;
}

/** Random shard boundaries of `positions`, and an order to commit them in. */
function randomCut(random: () => number, positions: number): [number, number][] {
  const shards: [number, number][] = [];
  for (let start = 0; start < positions; ) {
    const count = Math.min(positions - start, 1 + Math.floor(random() * positions * (random() < 0.3 ? 1 : 0.4)));
    shards.push([start, count]);
    start += count;
  }
  for (let k = shards.length - 1; k > 0; k--) {
    const j = Math.floor(random() * (k + 1));
    [shards[k], shards[j]] = [shards[j], shards[k]];
  }
  return shards;
}

describe('ShardRows through the codec', () => {
  test('the rows a worker makes arrive as the writer would make them', () => {
    for (let seed = 1; seed <= 12; seed++) {
      const c = randomCase(seed);
      const count = c.bytes.length - 1 - (seed % 7);
      const start = seed % 7;
      const unpacked = shardOf(c, start, count, seed % 2 === 0, true);
      const made = shardRowsOf(unpacked.range, TAUS.length, DMAX, c.model.hidden);
      assert.ok(unpacked.rows !== undefined);
      assert.deepEqual(unpacked.rows.counts.map((counts) => ({ ...counts, block: { ...counts.block } })), made.counts.map((counts) => ({ ...counts, block: { ...counts.block } })), `seed ${seed}`);
      assert.deepEqual(unpacked.rows.frequencies, made.frequencies, `seed ${seed}`);
      // Independently: the rows with a pattern active, each the code point array of its H counts; the histogram counts every position.
      const H = c.model.hidden;
      const frequency = unpacked.range.frequency as Uint32Array;
      assert.equal(frequency.length, FREQUENCY_TAUS.length * frequencyLength(H));
      for (let g = 0; g < frequencyRowCount(H); g++) {
        const values = frequency.subarray(g * H, (g + 1) * H);
        const expected = values.some((n) => n > 0) ? codePointsOf(values) : null;
        assert.deepEqual(unpacked.rows.frequencies[0][g], expected, `seed ${seed}, row ${JSON.stringify(frequencyRowAt(H, g))}`);
      }
      for (const counts of unpacked.rows.counts) assert.equal(counts.positions.reduce((sum, n) => sum + n, 0), count);
    }
  });

  test('refuses a shard whose sections do not add up', () => {
    const c = randomCase(3);
    const shape: ShardShape = { count: 20, thresholds: TAUS.length, dmax: DMAX, hidden: c.model.hidden, depthCurves: false, frequencies: FREQUENCY_TAUS.length };
    const { range, summary } = shardOf(c, 5, 20, false, false);
    const packed = packShard({ range, summary, peaks: patternPeaks(c.model, range.peakFactors) }, shape);
    const header = new Uint32Array(packed, 0, 2);
    assert.throws(() => unpackShard(packed.slice(0, packed.byteLength - 1), 5, shape, 0), CorruptStoreError);
    // One histogram entry fewer and four encoded bytes more: the same size, but a τ's histogram then runs short.
    header[0] -= 1;
    header[1] += 8;
    assert.throws(() => unpackShard(packed, 5, shape, 0), /a worker returned a shard for positions 5\+20 whose/);
  });
});

describe('RunWriter with rows made by workers', () => {
  test('stores the same rows in every table as a writer that makes them, for any cut and order, and its summaries are the count blocks’', () => {
    for (let seed = 20; seed < 30; seed++) {
      const random = mulberry32(seed);
      const cases = [randomCase(seed), randomCase(seed + 100)];
      const runs = cases.map((c, k) => runRecord(c, `run-${seed}-${k}`, k === 1));
      // Every other seed, the first run in one shard (its frequency rows are then the shard's own).
      const cuts = cases.map((c, k) => (k === 0 && seed % 2 === 0 ? [[0, c.bytes.length - 1] as [number, number]] : randomCut(random, c.bytes.length - 1)));
      const written = [false, true].map((viaCodec) => {
        const db = storeWith(`seed-${seed}-${viaCodec}`, runs);
        cases.forEach((c, k) => {
          const writer = new RunWriter(db, { runId: runs[k].runId, hidden: c.model.hidden, thresholdCount: TAUS.length, dmax: DMAX });
          // As executeRuns does: the last shard finishes the run in its transaction (finish() then has nothing to do).
          const shards = cuts[k].map(([start, count]) => shardOf(c, start, count, runs[k].depthCurves === true, viaCodec));
          // The first shard's peaks and frequencies become the run's (a fresh run): the next shards merge into copies, not into the shard given.
          const given = [shards[0].peaks.wx, shards[0].peaks.wh, shards[0].peaks.wy, shards[0].range.frequency as Uint32Array].map((values) => values.slice());
          shards.forEach((shard, index) => writer.commit(shard, viaCodec && index === shards.length - 1));
          writer.finish();
          assert.deepEqual([shards[0].peaks.wx, shards[0].peaks.wh, shards[0].peaks.wy, shards[0].range.frequency], given, `seed ${seed}, run ${k}: the first shard as given`);
          // The summaries it added up are those of its count blocks (still there: the run keeps them).
          const stored = db.prepare(`SELECT * FROM run_tau_stats WHERE run_key = ? ORDER BY tau_index`).all(writer.runKey) as Record<string, unknown>[];
          const fromBlocks = tauStatsOfRun(db, writer.runKey);
          // Its patterns active per τ: those of its stored peak rows' levels.
          const { levels, thresholds: sorted } = runLevels(db, writer.runKey);
          const active = activeByRank(levels, sorted.length);
          const ranks = TAUS.map((tau) => sorted.indexOf(Math.fround(tau)));
          assert.deepEqual(
            stored.map((row) => [row.active_x, row.active_h, row.active_y]),
            ranks.map((rank) => [active.wx[rank], active.wh[rank], active.wy[rank]]),
            `seed ${seed}, run ${k}: active patterns`,
          );
          assert.equal(stored.length, TAUS.length);
          stored.forEach((row, index) => {
            for (const [column, value] of Object.entries(fromBlocks[index])) assert.deepEqual(row[column], value, `seed ${seed}, run ${k}, τ index ${index}, ${column}`);
          });
        });
        const rows = tableRows(db);
        db.close();
        return rows;
      });
      assert.deepEqual(written[1], written[0], `seed ${seed}`);
      assert.ok(written[0].pattern_frequency_rows.length > 0 && written[0].count_blocks.length > 0);
    }
  });

  test('a run resumed by another writer, and a writer whose commit failed, store the same rows', () => {
    for (let seed = 40; seed < 46; seed++) {
      const random = mulberry32(seed);
      const c = randomCase(seed);
      const run = runRecord(c, `run-${seed}`, false);
      const shards = randomCut(random, c.bytes.length - 1);
      const shape = { runId: run.runId, hidden: c.model.hidden, thresholdCount: TAUS.length, dmax: DMAX };
      const straight = storeWith(`straight-${seed}`, [run]);
      const writer = new RunWriter(straight, shape);
      for (const [start, count] of shards) writer.commit(shardOf(c, start, count, false, true));
      writer.finish();
      const expected = tableRows(straight);
      straight.close();

      const resumed = storeWith(`resumed-${seed}`, [run]);
      const cut = 1 + Math.floor(random() * Math.max(1, shards.length - 1));
      const first = new RunWriter(resumed, shape);
      for (const [start, count] of shards.slice(0, cut)) first.commit(shardOf(c, start, count, false, true));
      // A second writer (a resumed process) goes on from the committed shards; one of its commits fails first.
      const second = new RunWriter(resumed, shape);
      const [failStart, failCount] = shards[Math.min(cut, shards.length - 1)];
      if (cut < shards.length) {
        resumed.prepare(`INSERT INTO shards (run_key, start, count, seconds, committed_at, surprisal_sum, surprisal_err) VALUES (?, ?, 1, 0, 'x', 0, 0)`).run(second.runKey, failStart);
        assert.throws(() => second.commit(shardOf(c, failStart, failCount, false, true)), /UNIQUE constraint failed: shards/);
        resumed.prepare(`DELETE FROM shards WHERE run_key = ? AND start = ? AND committed_at = 'x'`).run(second.runKey, failStart);
      }
      shards.slice(cut).forEach(([start, count], index) => second.commit(shardOf(c, start, count, false, true), index === shards.length - cut - 1));
      second.finish();
      assert.deepEqual(tableRows(resumed), expected, `seed ${seed}`);
      resumed.close();
    }
  });
});

describe('rollups from the runs a writer holds', () => {
  const COHORT_TABLES = ['job_cohorts', 'cohort_tau_stats', 'cohort_depth', 'cohort_pattern_levels', 'cohort_frequency', 'cohort_frequency_rows'];
  const cohortRows = (db: Db) => {
    const all = tableRows(db);
    return Object.fromEntries(COHORT_TABLES.map((table) => [table, all[table]]));
  };

  test('a cohort rolled up from what its writers held (and from the store for the runs they did not finish) equals one rebuilt from the stored runs', () => {
    for (let seed = 60; seed < 66; seed++) {
      const random = mulberry32(seed);
      const base = randomCase(seed);
      const keep = seed % 3 === 2 ? 'summaries' : 'full';
      // Windows of one data file read by one model: one cohort (and the same Dmax); 6 runs, each its own bytes (so their peaks differ).
      const cases: Case[] = Array.from({ length: 6 }, () => {
        const bytes = Uint8Array.from({ length: 30 + Math.floor(random() * 50) }, () => 32 + Math.floor(random() * 60));
        return { model: base.model, bytes, states: forwardStates(base.model, bytes), tables: base.tables };
      });
      const runs: RunRecord[] = cases.map((c, k) => ({
        ...runRecord(c, `cohort-${seed}-${k}`, false),
        model: { sha256: `model-${seed}`, path: '/models/model.bin', hidden: c.model.hidden, significant: significantCounts(c.model) },
        data: { path: '/data/file', offset: 100 * k, length: c.bytes.length, sha256: `data-${seed}-${k}` },
        keep,
      }));
      const db = storeWith(`cohort-${seed}`, runs);
      const shapeOf = (k: number) => ({ runId: runs[k].runId, hidden: base.model.hidden, thresholdCount: TAUS.length, dmax: DMAX });
      const writeRun = (k: number, writer = new RunWriter(db, shapeOf(k)), shards = randomCut(random, cases[k].bytes.length - 1)) => {
        shards.forEach(([start, count], index) => writer.commit(shardOf(cases[k], start, count, false, true), index === shards.length - 1));
        writer.finish();
      };
      writeRun(0);
      writeRun(1);
      // A roll-up in between (rollUpIfDue's): the cohort begins (or, of one run kept full, waits).
      db.transaction(() => rollUp(db))();
      writeRun(2);
      // A run resumed by another writer: the first holds nothing of it, the second only what it finished.
      const shards = randomCut(random, cases[3].bytes.length - 1);
      const cut = Math.max(1, Math.floor(shards.length / 2));
      const first = new RunWriter(db, shapeOf(3));
      for (const [start, count] of shards.slice(0, cut)) first.commit(shardOf(cases[3], start, count, false, true));
      writeRun(3, new RunWriter(db, shapeOf(3)), shards.slice(cut));
      writeRun(4);
      // A run finished by a writer of another connection (as a merge would): read from the store.
      const other = openDatabase(join(folder.path, `cohort-${seed}.sqlite`));
      writeRun(5, new RunWriter(other, shapeOf(5)));
      other.close();
      db.transaction(() => rollUp(db))();
      assert.equal(db.prepare(`SELECT runs FROM job_cohorts`).pluck().get(), 6, `seed ${seed}`);
      assert.equal(db.prepare(`SELECT count(*) FROM job_runs WHERE rolled_up = 0`).pluck().get(), 0, `seed ${seed}`);
      const rolledUp = cohortRows(db);
      assert.ok(rolledUp.cohort_frequency_rows.length > 0 && rolledUp.cohort_pattern_levels.length > 0, `seed ${seed}`);
      if (keep === 'full') {
        db.transaction(() => rebuildJobRollups(db, 1))();
        assert.deepEqual(rolledUp, cohortRows(db), `seed ${seed}`);
      }
      db.close();
    }
  });
});
