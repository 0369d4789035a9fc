import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CLASS_COUNT,
  forwardStates,
  patternPeaks,
  RULE_NAMES,
  ruleChoices,
  traceRange,
  traceTables,
  type Model,
  type RuleName,
} from '../src/engine/index.js';
import { explainPosition } from '../src/engine/explain.js';
import { mergePeakFactors } from '../src/engine/patterns.js';
import { peakFactorLength } from '../src/engine/trace.js';
import { BATCH_FORMAT } from '../src/queue/batches.js';
import { checkBatch } from '../src/queue/validate.js';
import { mergeSegment, openDatabase } from '../src/store/index.js';
import { cliHere, resultRows, SHARED_DATA, SHARED_MODEL, temporaryFolder } from './cli.js';
import { computeThroughQueue } from './queue-run.js';
import { redisAvailable } from './redis.js';
import { PLAIN_RULES, plainAttribution, type PlainResult } from './plain/plainQ1.js';
import { mulberry32, randomModel } from './random-model.js';

/**
 * The attribution rules (src/engine/computation.ts): the engine against the
 * plain implementation of each rule (test/plain/plainQ1.ts, written from the
 * rule's definition), bit for bit; and a rule's way through the job file, the
 * run identity, the store, `explain` and the queue's checks.
 */

interface EngineRun {
  readonly counts: Uint32Array;
  readonly depthMass: Float32Array;
  readonly peaks: ReturnType<typeof patternPeaks>;
}

/** The engine over every position of `bytes`, in ranges starting at 0 and `rangeStarts`, as the runner splits a window into shards. */
function runEngine(model: Model, bytes: Uint8Array, thresholds: readonly number[], dmax: number, rule: RuleName, rangeStarts: readonly number[] = []): EngineRun {
  const positions = bytes.length - 1;
  const T = thresholds.length;
  const input = { model, bytes, states: forwardStates(model, bytes), thresholds: Float32Array.from(thresholds), dmax, rule };
  const tables = traceTables(model);
  const counts = new Uint32Array(positions * T * CLASS_COUNT);
  const depthMass = new Float32Array(positions * (dmax + 1));
  const peakFactors = new Float32Array(peakFactorLength(model.hidden));
  const bounds = [0, ...rangeStarts, positions];
  for (let r = 0; r + 1 < bounds.length; r++) {
    const range = traceRange(input, tables, bounds[r], bounds[r + 1] - bounds[r]);
    counts.set(range.counts, range.start * T * CLASS_COUNT);
    depthMass.set(range.depthMass, range.start * (dmax + 1));
    mergePeakFactors(peakFactors, range.peakFactors);
  }
  return { counts, depthMass, peaks: patternPeaks(model, peakFactors) };
}

/** The engine equals the plain implementation: counts per position, τ and class, depth mass per position and offset, pattern peaks. */
function assertSame(engine: EngineRun, plain: PlainResult, thresholds: readonly number[], dmax: number, what: string): void {
  const T = thresholds.length;
  for (let t = 0; t < plain.targets.length; t++) {
    for (let k = 0; k < T; k++) {
      const got = Array.from(engine.counts.subarray((t * T + k) * 3, (t * T + k) * 3 + 3));
      assert.deepEqual(got, plain.counts[t][k], `${what}: n_x n_h n_y at t=${t} τ=${thresholds[k]}`);
    }
    for (let d = 0; d <= dmax; d++) {
      const got = engine.depthMass[t * (dmax + 1) + d];
      assert.ok(Object.is(got, plain.depthMass[t][d]), `${what}: depth mass at t=${t} d=${d}: ${got}, plain ${plain.depthMass[t][d]}`);
    }
  }
  for (const cls of ['wx', 'wh', 'wy'] as const) {
    const k = engine.peaks[cls].findIndex((value, index) => !Object.is(value, plain.peaks[cls][index]));
    assert.equal(k, -1, `${what}: ${cls} peak ${k}: ${engine.peaks[cls][k]}, plain ${plain.peaks[cls][k]}`);
  }
}

const CASES = [
  { hidden: 1, length: 64, dmax: 3, seed: 11, alphabet: 4, gain: 1 },
  { hidden: 2, length: 40, dmax: 50, seed: 21, alphabet: 8, gain: 3 },
  { hidden: 3, length: 700, dmax: 50, seed: 31, alphabet: 5, gain: 1 }, // past one kernel chunk (512 positions)
  { hidden: 5, length: 120, dmax: 1, seed: 51, alphabet: 256, gain: 1 },
  { hidden: 5, length: 80, dmax: 7, seed: 52, alphabet: 12, gain: 3 },
  { hidden: 9, length: 90, dmax: 50, seed: 91, alphabet: 7, gain: 2 },
  { hidden: 31, length: 60, dmax: 50, seed: 311, alphabet: 16, gain: 1 },
  { hidden: 33, length: 70, dmax: 9, seed: 331, alphabet: 256, gain: 3 },
  { hidden: 64, length: 45, dmax: 50, seed: 641, alphabet: 30, gain: 1 },
  { hidden: 128, length: 40, dmax: 20, seed: 1281, alphabet: 24, gain: 1 },
];

describe('every rule: the engine equals the plain implementation bit for bit on random models', () => {
  test('the plain implementation knows every rule the engine computes', () => {
    assert.deepEqual([...RULE_NAMES].sort(), [...PLAIN_RULES].sort());
  });

  for (const c of CASES) {
    test(`H=${c.hidden} N=${c.length} Dmax=${c.dmax} alphabet=${c.alphabet} gain=${c.gain} seed=${c.seed}`, () => {
      const random = mulberry32(c.seed);
      const model = randomModel(random, c.hidden, c.gain);
      const bytes = Uint8Array.from({ length: c.length }, () => Math.floor(random() * c.alphabet));
      const thresholds = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1].map((tau) => tau * (0.5 + random()));
      const positions = c.length - 1;
      const runs = new Map<RuleName, EngineRun>();
      for (const rule of RULE_NAMES) {
        const engine = runEngine(model, bytes, thresholds, c.dmax, rule);
        assertSame(engine, plainAttribution(model, bytes, thresholds, c.dmax, rule), thresholds, c.dmax, rule);
        // Shards start anywhere: a range that starts at t reads h_{t-Dmax}.
        const split = runEngine(model, bytes, thresholds, c.dmax, rule, [1, Math.floor(positions / 3), Math.floor(positions / 2) + 1].filter((s, k, all) => s > 0 && s < positions && all.indexOf(s) === k));
        assert.deepEqual(split.counts, engine.counts, `${rule}: split ranges, counts`);
        assert.deepEqual(split.depthMass, engine.depthMass, `${rule}: split ranges, depth mass`);
        runs.set(rule, engine);
      }
      // The rules differ only in Wx: n_h and n_y are the same, n_x or the mass at d ≥ 1 is not.
      const q1 = runs.get('q1') as EngineRun;
      const gated = runs.get('gated-wx') as EngineRun;
      assert.ok(q1.counts.every((n, k) => k % 3 === 0 || gated.counts[k] === n), 'n_h and n_y do not depend on the rule');
      if (positions >= 2 && c.dmax >= 1) {
        const differs = q1.counts.some((n, k) => k % 3 === 0 && gated.counts[k] !== n) || q1.depthMass.some((m, k) => k % (c.dmax + 1) !== 0 && !Object.is(m, gated.depthMass[k]));
        assert.ok(differs, 'gated-wx changes some n_x or depth mass');
      }
    });
  }
});

describe('explain follows the rule', () => {
  test("every pattern's attribution and every depth mass of gated-wx at every position, as the plain implementation has them", () => {
    const random = mulberry32(7);
    const model = randomModel(random, 6, 2);
    const bytes = Uint8Array.from({ length: 50 }, () => Math.floor(random() * 9));
    const states = forwardStates(model, bytes);
    const dmax = 12;
    let checked = 0;
    const plain = plainAttribution(model, bytes, [0.01], dmax, 'gated-wx', (t, attributions) => {
      const explanation = explainPosition({ model, bytes, states, t, dmax, rule: 'gated-wx' });
      const H = model.hidden;
      const listed = { wx: new Float32Array(H * 256), wh: new Float32Array(H * H), wy: new Float32Array(256 * H) };
      for (const p of explanation.patterns) {
        if (p.cls === 'wx') listed.wx[p.dst * 256 + p.src] = p.attribution;
        else if (p.cls === 'wh') listed.wh[p.dst * H + p.src] = p.attribution;
        else listed.wy[p.dst * H + p.src] = p.attribution;
      }
      for (const cls of ['wx', 'wh', 'wy'] as const) assert.deepEqual(listed[cls], attributions[cls], `${cls} at t=${t}`);
      checked++;
    });
    for (let t = 0; t < plain.depthMass.length; t++) {
      const explanation = explainPosition({ model, bytes, states, t, dmax, rule: 'gated-wx' });
      assert.deepEqual([...explanation.depthMass], plain.depthMass[t].slice(0, explanation.depth + 1), `depth mass at t=${t}`);
    }
    assert.equal(checked, bytes.length - 1);
  });
});

describe('a rule through the job, the store and explain', () => {
  const folder = temporaryFolder('rules');
  after(() => folder.remove());
  const db = join(folder.path, 'rules.sqlite');
  const window = ['--model', SHARED_MODEL, '--data', SHARED_DATA, '--length', '160', '--dmax', '20', '--tau', '1e-3,0.01,0.1', '--db', db, '--no-report'];
  const sqlRows = async (query: string): Promise<unknown[][]> => (await sql(query)).map((row) => Object.values(row));
  const sql = async (query: string): Promise<Record<string, unknown>[]> => {
    const result = await cliHere(['sql', query, '--db', db, '--format', 'json']);
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout) as Record<string, unknown>[];
  };

  test('an unknown rule in a job file exits 2 naming the file and the rules; --rule takes only those', async () => {
    const job = join(folder.path, 'bad-rule.json');
    writeFileSync(job, JSON.stringify({ models: [SHARED_MODEL], data: [{ path: SHARED_DATA, length: 64 }], rule: 'gated-wh' }));
    const result = await cliHere(['run', job, '--db', db, '--no-report']);
    assert.equal(result.code, 2, result.stderr);
    assert.ok(result.stderr.includes(`job file ${job}: rule: must be ${ruleChoices()}, got "gated-wh"`), result.stderr);
    for (const rule of RULE_NAMES) assert.ok(ruleChoices().includes(`"${rule}"`), rule);
    const flag = await cliHere(['run', ...window, '--rule', 'gated']);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /rule/);
    assert.ok(flag.stderr.includes(RULE_NAMES.map((rule) => `"${rule}"`).join(', ')), flag.stderr);
  });

  /** Positions of the window's run that `plan` finds stored, with these flags. */
  const planned = async (flags: string[]): Promise<number> => {
    const result = await cliHere(['plan', ...window.filter((arg) => arg !== '--no-report'), ...flags, '--format', 'json']);
    assert.equal(result.code, 0, result.stderr);
    return (JSON.parse(result.stdout) as { positions: { stored: number } }).positions.stored;
  };

  test('q1 and gated-wx runs of one window are two runs in one store, the q1 one with the identity it always had', async () => {
    assert.equal((await cliHere(['run', ...window])).code, 0);
    // plan finds the q1 run, and not a gated-wx one: the identity carries the rule.
    assert.deepEqual([await planned([]), await planned(['--rule', 'gated-wx'])], [159, 0]);
    const gated = await cliHere(['run', ...window, '--rule', 'gated-wx']);
    assert.equal(gated.code, 0, gated.stderr);
    const runs = JSON.parse((await cliHere(['runs', '--db', db, '--format', 'json'])).stdout) as { run_id: string; rule: string; status: string; data_sha256: string; model_sha256: string }[];
    assert.deepEqual(runs.map((run) => [run.rule, run.status]), [['q1', 'done'], ['gated-wx', 'done']]);
    assert.notEqual(runs[0].run_id, runs[1].run_id);
    assert.deepEqual(await sql(`SELECT rule FROM runs ORDER BY run_key`), [{ rule: 'q1' }, { rule: 'gated-wx' }]);
    // The q1 identity as sparsetrace has always hashed it (job/expand.ts before rules): existing stores keep their run ids.
    const canonical = JSON.stringify({ computation: 'q1-sparsity/1 (fdlibm tanhf)', model: runs[0].model_sha256, data: runs[0].data_sha256, dmax: 20, gate: Math.fround(1e-8), taus: [1e-3, 0.01, 0.1].map(Math.fround) });
    assert.equal(runs[0].run_id, createHash('sha256').update(canonical).digest('hex').slice(0, 16));
    // Run again: both are found done, nothing is added.
    const again = await cliHere(['run', ...window, '--rule', 'gated-wx']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((await sql('SELECT count(*) AS n FROM runs'))[0].n, 2);
    assert.deepEqual([await planned([]), await planned(['--rule', 'gated-wx'])], [159, 159]);
    const jobs = (await sql('SELECT name FROM jobs ORDER BY job_id')).map((row) => row.name);
    assert.deepEqual(jobs, ['sat_model-enwik_1024@0+160-dmax20', 'sat_model-enwik_1024@0+160-dmax20-gated-wx']);
  });

  test('resume reads the rule back from the job it continues', async () => {
    const jobs = async (): Promise<unknown[][]> => sqlRows(`SELECT j.name, r.run_id, r.rule FROM jobs j JOIN job_runs USING (job_id) JOIN runs r USING (run_key) ORDER BY j.job_id`);
    const before = await jobs();
    // Without its rule the job would expand to the q1 run: another job (another sha256) over it.
    const resumed = await cliHere(['resume', '--job', 'sat_model-enwik_1024@0+160-dmax20-gated-wx', '--db', db, '--no-report']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(await jobs(), before);
    assert.equal(before.length, 2);
  });

  test('the rules agree on n_h and n_y at every position and τ, and differ in n_x and depth mass', async () => {
    const [q1, gated] = (await sql('SELECT run_id FROM runs ORDER BY run_key')).map((row) => row.run_id as string);
    const pairs = await sql(
      `SELECT a.t, a.tau, a.n_x AS ax, b.n_x AS bx, a.n_h = b.n_h AND a.n_y = b.n_y AS same_hy
       FROM counts a JOIN counts b ON b.t = a.t AND b.tau = a.tau WHERE a.run_id = '${q1}' AND b.run_id = '${gated}'`,
    );
    assert.equal(pairs.length, 159 * 3);
    assert.ok(pairs.every((row) => row.same_hy === 1));
    assert.ok(pairs.some((row) => row.ax !== row.bx), 'some n_x differs');
    const masses = await sql(`SELECT count(*) AS n FROM positions a JOIN positions b USING (t) WHERE a.run_id = '${q1}' AND b.run_id = '${gated}' AND a.mass_total != b.mass_total`);
    assert.ok((masses[0].n as number) > 0);
  });

  test('a report of both runs never pools them: one group per rule, each the figures of its run alone', async () => {
    const [q1, gated] = (await sql('SELECT run_id FROM runs ORDER BY run_key')).map((row) => row.run_id as string);
    const both = await cliHere(['report', '--all', '--db', db, '--format', 'json']);
    assert.equal(both.code, 0, both.stderr);
    assert.match(both.stderr, /the selected runs use 2 attribution rules \(gated-wx, q1\): one row per rule/);
    type Group = { group: string; runs: string[]; sparsity: unknown; depth: unknown };
    const report = JSON.parse(both.stdout) as { by: unknown; groups: Group[] };
    assert.equal(report.by, 'rule');
    assert.deepEqual(report.groups.map((group) => [group.group, group.runs]), [['q1', [q1]], ['gated-wx', [gated]]]);
    for (const [k, run] of [q1, gated].entries()) {
      const alone = JSON.parse((await cliHere(['report', '--run', run, '--db', db, '--format', 'json'])).stdout) as Group;
      assert.deepEqual([report.groups[k].sparsity, report.groups[k].depth], [alone.sparsity, alone.depth], run);
    }
    assert.notDeepEqual(report.groups[0].sparsity, report.groups[1].sparsity);
  });

  test('a merge (what serve does with a worker\'s segment) keeps each run\'s rule', async () => {
    const target = join(folder.path, 'merged.sqlite');
    const handle = openDatabase(target);
    try {
      assert.equal(mergeSegment(handle, db).merged.length, 2);
      assert.deepEqual(handle.prepare('SELECT run_id, rule FROM runs ORDER BY run_id').raw().all(), await sqlRows('SELECT run_id, rule FROM runs ORDER BY run_id'));
    } finally {
      handle.close();
    }
    assert.equal(resultRows(target), resultRows(db));
  });

  test("explain recomputes each run with its own rule: its counts are the stored ones", async () => {
    const [q1, gated] = (await sql('SELECT run_id FROM runs ORDER BY run_key')).map((row) => row.run_id as string);
    const [{ t }] = await sql(
      `SELECT a.t FROM counts a JOIN counts b ON b.t = a.t AND b.tau = a.tau
       WHERE a.run_id = '${q1}' AND b.run_id = '${gated}' AND a.n_x != b.n_x ORDER BY a.t LIMIT 1`,
    ) as { t: number }[];
    const counts = new Map<string, unknown>();
    for (const run of [q1, gated]) {
      const explained = await cliHere(['explain', '--run', run, '--t', String(t), '--format', 'json', '--db', db]);
      assert.equal(explained.code, 0, explained.stderr);
      const json = JSON.parse(explained.stdout) as { run: { rule: string }; counts: { n_x: number; n_h: number; n_y: number; stored: { n_x: number; n_h: number; n_y: number } }[] };
      assert.equal(json.run.rule, run === q1 ? 'q1' : 'gated-wx');
      for (const row of json.counts) assert.deepEqual([row.n_x, row.n_h, row.n_y], [row.stored.n_x, row.stored.n_h, row.stored.n_y], `run ${run} at t=${t}`);
      counts.set(run, json.counts.map((row) => row.n_x));
    }
    assert.notDeepEqual(counts.get(q1), counts.get(gated));
    assert.match((await cliHere(['explain', '--run', gated, '--t', String(t), '--db', db])).stdout, new RegExp(`^Run ${gated} \\(Dmax 20, rule gated-wx\\), position t = ${t}:`));
  });
});

describe('the queue carries the rule', () => {
  const run = (rule: unknown) => ({
    runId: 'a'.repeat(16),
    model: { sha256: 'b'.repeat(64), path: SHARED_MODEL, hidden: 128, significant: { wx: 1, wh: 1, wy: 1, total: 3 } },
    data: { path: SHARED_DATA, offset: 0, length: 60, sha256: 'c'.repeat(64) },
    dmax: 9,
    gate: Math.fround(1e-8),
    taus: [0.1],
    positions: 59,
    depthCurves: false,
    ...(rule === undefined ? {} : { rule }),
  });
  const batch = (rule: unknown) => ({ format: BATCH_FORMAT, job: 'd'.repeat(64), runs: [run(rule)] });

  test('a batch of a known rule is accepted with it', () => {
    for (const rule of RULE_NAMES) assert.equal(checkBatch('b1', batch(rule)).runs[0].rule, rule);
  });

  test('an unknown or missing rule is refused, naming the rules this version computes', () => {
    assert.throws(() => checkBatch('b1', batch('gated-wh')), (error: Error) => error.message.includes(`batch b1: refused: runs[0].rule "gated-wh" is not an attribution rule this sparsetrace computes (${ruleChoices()})`));
    assert.throws(() => checkBatch('b1', batch(undefined)), /runs\[0\]\.rule .* is not an attribution rule/);
  });
});

describe('serve and a worker compute a gated-wx job as one process does', { skip: redisAvailable() ? false : 'redis-server is not installed (.ci/run installs it)' }, () => {
  const folder = temporaryFolder('rules-queue');
  after(() => folder.remove());

  test('the batches carry the rule: the merged rows and runs.rule equal a single-process run', async () => {
    const job = join(folder.path, 'gated.json');
    writeFileSync(job, JSON.stringify({ name: 'gated-queue', models: [SHARED_MODEL], data: [{ path: SHARED_DATA, length: 60, stride: 100, count: 4 }], dmax: [9], tau: [0.001, 0.01], rule: 'gated-wx' }));
    const single = join(folder.path, 'single.sqlite');
    assert.equal((await cliHere(['run', job, '--db', single, '--no-report'])).code, 0);
    const merged = await computeThroughQueue(job, folder.path);
    assert.equal(resultRows(merged), resultRows(single));
    const rules = async (path: string): Promise<unknown> => (await cliHere(['sql', 'SELECT run_id, rule FROM runs ORDER BY run_id', '--db', path, '--format', 'json'])).stdout;
    assert.equal(await rules(merged), await rules(single));
    assert.match((await rules(merged)) as string, /"rule": ?"gated-wx"/);
  });
});
