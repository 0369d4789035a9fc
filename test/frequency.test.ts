import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { BYTE_VALUES } from '../src/engine/index.js';
import { SegmentError } from '../src/errors.js';
import { mergeSegment, openDatabase } from '../src/store/index.js';
import { cliHere, resultRows, SHARED_DATA, SHARED_MODEL, temporaryFolder } from './cli.js';
import { plainQ1 } from './plain/plainQ1.js';
import { mulberry32, randomModel } from './random-model.js';

/**
 * Activation frequency through the whole tool (issue #19 item 1): what runs
 * store (`pattern_frequency`, read with plain SQL: better-sqlite3 with none of
 * our functions), against the counts and against the plain implementation, and
 * the report's frequency section in every format.
 */
const folder = temporaryFolder('frequency');
after(() => folder.remove());

const shipped = join(folder.path, 'shipped.sqlite');
const TAUS = [1e-5, 1e-4, 1e-3, 0.01, 0.1, 1, 10];

/** Runs `sql` on a plain SQLite connection (no function of ours). */
function plainRows<T>(path: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

before(async () => {
  // The Q1 window and two windows of other text, Dmax 50 and 20, in shards of 100 (so several shards add up).
  const job = join(folder.path, 'shipped.json');
  writeFileSync(job, JSON.stringify({
    name: 'shipped', models: [SHARED_MODEL],
    data: [{ path: SHARED_DATA, length: 1024 }, { path: SHARED_DATA, offset: 300, length: 500, stride: 200, count: 2 }],
    dmax: [50, 20], tau: TAUS,
  }));
  const run = await cliHere(['run', job, '--db', shipped, '--shard-size', '100', '--no-report']);
  assert.equal(run.code, 0, run.stderr);
});

describe('activation frequency on the shipped inputs', () => {
  test('per run and class, the patterns\' positions add up to the sum over positions of n_x, n_h, n_y at τ = 0.01 (plain SQL)', () => {
    const sums = plainRows<{ run_id: string; class: string; patterns: number }>(shipped, `SELECT run_id, class, sum(positions) AS patterns FROM pattern_frequency WHERE tau = 0.01 GROUP BY run_id, class`);
    const counts = plainRows<{ run_id: string; n_x: number; n_h: number; n_y: number }>(
      shipped,
      `SELECT r.run_id, s.sum_x AS n_x, s.sum_h AS n_h, s.sum_y AS n_y FROM run_tau_stats s JOIN runs r USING (run_key) JOIN run_taus t USING (run_key, tau_index) WHERE t.tau = 0.01`,
    );
    assert.equal(counts.length, 6);
    for (const run of counts) {
      for (const [cls, column] of [['wx', 'n_x'], ['wh', 'n_h'], ['wy', 'n_y']] as const) {
        const stored = sums.find((row) => row.run_id === run.run_id && row.class === cls)?.patterns ?? 0;
        assert.equal(stored, run[column], `run ${run.run_id} ${cls}`);
        assert.ok(stored > 0);
      }
    }
    // Every run counted all its positions, at the page's τ.
    const counted = plainRows<{ tau: number; counted: number; positions: number }>(shipped, `SELECT f.tau, f.positions AS counted, r.positions FROM run_frequency f JOIN runs r USING (run_key)`);
    assert.equal(counted.length, 6);
    for (const row of counted) assert.deepEqual([row.tau, row.counted], [0.01, row.positions]);
    // No pattern is active at more positions than the run has, and none is listed at 0.
    const bounds = plainRows<{ high: number; low: number }>(shipped, `SELECT max(f.positions - r.positions) AS high, min(f.positions) AS low FROM pattern_frequency f JOIN runs r USING (run_key)`);
    assert.ok(bounds[0].high <= 0 && bounds[0].low >= 1);
  });

  test('the same with the counts view: the sum over positions of each class equals the sum over patterns', () => {
    const db = openDatabase(shipped, { readonly: true });
    try {
      const fromCounts = db.prepare(`SELECT run_id, sum(n_x) AS wx, sum(n_h) AS wh, sum(n_y) AS wy FROM counts WHERE tau = 0.01 GROUP BY run_id ORDER BY run_id`).all() as { run_id: string; wx: number; wh: number; wy: number }[];
      const fromPatterns = db.prepare(
        `SELECT run_id, sum(CASE class WHEN 'wx' THEN positions END) AS wx, sum(CASE class WHEN 'wh' THEN positions END) AS wh, sum(CASE class WHEN 'wy' THEN positions END) AS wy
         FROM pattern_frequency WHERE tau = 0.01 GROUP BY run_id ORDER BY run_id`,
      ).all();
      assert.deepEqual(fromPatterns, fromCounts);
    } finally {
      db.close();
    }
  });
});

describe('activation frequency against the plain implementation', () => {
  for (const c of [{ hidden: 9, length: 70, dmax: 50, seed: 901, alphabet: 7, shard: 9 }, { hidden: 33, length: 45, dmax: 6, seed: 3301, alphabet: 256, shard: 16 }]) {
    test(`a random model H=${c.hidden}, ${c.length} bytes, Dmax ${c.dmax}, shards of ${c.shard}: every pattern's stored positions`, async () => {
      const random = mulberry32(c.seed);
      const model = randomModel(random, c.hidden, 1);
      const bytes = Uint8Array.from({ length: c.length }, () => Math.floor(random() * c.alphabet));
      const modelPath = join(folder.path, `random-${c.seed}.bin`);
      const dataPath = join(folder.path, `random-${c.seed}.txt`);
      writeFileSync(modelPath, new Uint8Array(model.wx.buffer));
      writeFileSync(dataPath, bytes);
      const db = join(folder.path, `random-${c.seed}.sqlite`);
      const run = await cliHere(['run', '--model', modelPath, '--data', dataPath, '--length', String(c.length), '--dmax', String(c.dmax), '--tau', '0.001,0.1', '--shard-size', String(c.shard), '--db', db, '--no-report']);
      assert.equal(run.code, 0, run.stderr);
      const plain = plainQ1(model, bytes, [0.01], c.dmax).frequency[0];
      const expected: string[] = [];
      const H = c.hidden;
      for (let c2 = 0; c2 < BYTE_VALUES; c2++) for (let j = 0; j < H; j++) if (plain.wx[j * BYTE_VALUES + c2] > 0) expected.push(`wx ${c2} ${j} ${plain.wx[j * BYTE_VALUES + c2]}`);
      for (let i = 0; i < H; i++) for (let j = 0; j < H; j++) if (plain.wh[i * H + j] > 0) expected.push(`wh ${j} ${i} ${plain.wh[i * H + j]}`);
      for (let y = 0; y < BYTE_VALUES; y++) for (let j = 0; j < H; j++) if (plain.wy[y * H + j] > 0) expected.push(`wy ${j} ${y} ${plain.wy[y * H + j]}`);
      const stored = plainRows<{ class: string; src: number; dst: number; positions: number }>(db, `SELECT class, src, dst, positions FROM pattern_frequency WHERE tau = 0.01`);
      assert.deepEqual(stored.map((row) => `${row.class} ${row.src} ${row.dst} ${row.positions}`).sort(), expected.sort());
      assert.ok(expected.some((line) => line.startsWith('wh')) && expected.some((line) => line.startsWith('wx')), 'patterns of Wh and Wx are active');
    });
  }
});

describe('a segment\'s activation frequencies are checked before it is merged', () => {
  test('a segment whose frequencies do not add up to its counts is refused, and nothing is merged', () => {
    const segment = join(folder.path, 'tampered.sqlite');
    copyFileSync(shipped, segment);
    const handle = new Database(segment);
    // One Wh row's counts, each one more: still a readable row, no longer the counts' sum.
    const row = handle.prepare(`SELECT run_key, tau_index, row, positions FROM pattern_frequency_rows WHERE class = 'wh' LIMIT 1`).get() as { run_key: number; tau_index: number; row: number; positions: Buffer };
    const width = row.positions.length / 128;
    assert.equal(width, 2);
    const bumped = Buffer.from(row.positions);
    // Width 2: the last byte holds the low six bits of the code point; add 1 where it does not carry.
    for (let at = 1; at < bumped.length; at += 2) if ((bumped[at] & 0x3f) < 0x3f) bumped[at] += 1;
    handle.prepare(`UPDATE pattern_frequency_rows SET positions = ? WHERE run_key = ? AND tau_index = ? AND class = 'wh' AND row = ?`).run(bumped, row.run_key, row.tau_index, row.row);
    handle.close();
    const target = join(folder.path, 'target.sqlite');
    const db = openDatabase(target);
    try {
      assert.throws(() => mergeSegment(db, segment), (error: unknown) => error instanceof SegmentError && /activation frequencies at τ = 0\.01 add up to/.test(error.message));
      assert.equal(db.prepare('SELECT count(*) FROM runs').pluck().get(), 0, 'nothing merged');
      // The untouched database merges, with its frequencies.
      mergeSegment(db, shipped);
    } finally {
      db.close();
    }
    assert.equal(resultRows(target), resultRows(shipped));
  });
});

describe('report --sections frequency', () => {
  test('JSON: the most often active patterns per class and the backbone, as the pattern_frequency view has them', async () => {
    const json = await cliHere(['report', '--db', shipped, '--job', 'shipped', '--dmax', '50', '--sections', 'frequency', '--format', 'json']);
    assert.equal(json.code, 0, json.stderr);
    type Pattern = { class: string; src: number; dst: number; positions: number; share: number };
    const { frequency } = JSON.parse(json.stdout) as { frequency: { tau: number; runs: number; positions: number; runs_without: number; top: Record<string, Pattern[]>; backbone: { edges: Pattern[]; neurons: { neuron: number; in_degree: number; out_degree: number }[] } } };
    assert.deepEqual([frequency.tau, frequency.runs, frequency.runs_without], [0.01, 3, 0]);
    assert.equal(frequency.positions, 1023 + 499 + 499);
    const summed = plainRows<{ class: string; src: number; dst: number; positions: number }>(
      shipped,
      `SELECT class, src, dst, sum(f.positions) AS positions FROM pattern_frequency f JOIN runs r USING (run_key) WHERE r.dmax = 50 AND f.tau = 0.01
       GROUP BY class, src, dst ORDER BY positions DESC, src, dst`,
    );
    for (const cls of ['wx', 'wh', 'wy']) {
      const expected = summed.filter((row) => row.class === cls).slice(0, 10).map((row) => ({ ...row, share: row.positions / frequency.positions }));
      assert.deepEqual(frequency.top[cls], expected, cls);
    }
    // The backbone's edges are the Wh patterns in order of frequency (those bringing too many neurons left out), its degrees theirs.
    const wh = summed.filter((row) => row.class === 'wh');
    assert.deepEqual(frequency.backbone.edges[0], { ...wh[0], share: wh[0].positions / frequency.positions });
    let at = 0;
    for (const edge of frequency.backbone.edges) {
      const k = wh.findIndex((row, index) => index >= at && row.src === edge.src && row.dst === edge.dst);
      assert.ok(k >= at, `edge ${edge.src} → ${edge.dst} in order`);
      at = k + 1;
    }
    const neurons = new Set(frequency.backbone.edges.flatMap((edge) => [edge.src, edge.dst]));
    assert.ok(neurons.size <= 32 && frequency.backbone.edges.length === 30);
    assert.deepEqual(frequency.backbone.neurons.map((n) => n.neuron), [...neurons].sort((a, b) => a - b));
    for (const n of frequency.backbone.neurons) {
      assert.equal(n.in_degree, frequency.backbone.edges.filter((edge) => edge.dst === n.neuron).length);
      assert.equal(n.out_degree, frequency.backbone.edges.filter((edge) => edge.src === n.neuron).length);
    }
  });

  test('text, Markdown and CSV print the same figures; the default sections do not include it', async () => {
    const args = ['report', '--db', shipped, '--job', 'shipped', '--dmax', '50', '--sections', 'frequency'];
    const json = JSON.parse((await cliHere([...args, '--format', 'json'])).stdout) as { frequency: { top: { wh: { src: number; dst: number; positions: number }[] } } };
    const top = json.frequency.top.wh[0];
    const text = await cliHere(args);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^Activation frequency at τ = 0\.01: 3 runs, 2,021 positions/m);
    assert.match(text.stdout, new RegExp(`Wh h${top.src} → h${top.dst} +${top.positions.toLocaleString('en-US')} `));
    const md = await cliHere([...args, '--format', 'md']);
    assert.match(md.stdout, new RegExp(`\\| Wh h${top.src} → h${top.dst} +\\| +${top.positions.toLocaleString('en-US')} \\|`));
    const csv = await cliHere([...args, '--format', 'csv']);
    assert.ok(csv.stdout.split('\n').includes(`frequency,0.01,,Wh h${top.src} → h${top.dst},positions,${top.positions}`), csv.stdout.slice(0, 400));
    const plain = await cliHere(['report', '--db', shipped, '--job', 'shipped', '--dmax', '50', '--format', 'json']);
    assert.equal((JSON.parse(plain.stdout) as { frequency?: unknown }).frequency, undefined);
  });

  test('runs without frequencies are said so, not shown as zeros', async () => {
    const db = join(folder.path, 'without.sqlite');
    copyFileSync(shipped, db);
    const handle = new Database(db);
    // As runs computed before schema 7 are: no frequencies of their own, none in their cohorts' sums.
    handle.exec(`DELETE FROM pattern_frequency_rows; DELETE FROM run_frequency; DELETE FROM cohort_frequency_rows; DELETE FROM cohort_frequency;`);
    handle.close();
    const bytes = readFileSync(db);
    const text = await cliHere(['report', '--db', db, '--job', 'shipped', '--dmax', '50', '--sections', 'frequency']);
    assert.equal(text.code, 0, text.stderr);
    assert.equal(text.stdout.trim(), 'no activation frequency at τ = 0.01: the selection\'s 3 runs are not finished, or computed before sparsetrace kept it (schema 7)');
    const json = JSON.parse((await cliHere(['report', '--db', db, '--job', 'shipped', '--dmax', '50', '--sections', 'frequency', '--format', 'json'])).stdout) as { frequency: { runs: number; runs_without: number; top: { wh: unknown[] } } };
    assert.deepEqual([json.frequency.runs, json.frequency.runs_without, json.frequency.top.wh.length], [0, 3, 0]);
    assert.ok(readFileSync(db).equals(bytes), 'the reports leave the database as it was');
  });
});
