import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { loadJobFile } from '../src/job/index.js';
import { chainSteps } from '../src/plan/calibrate.js';
import { planJob } from '../src/plan/plan.js';
import { databaseUsedBytes, estimateStoreBytes } from '../src/store/index.js';
import { listRuns, openDatabase } from '../src/store/index.js';
import { cliHere, SHARED_DATA, SHARED_MODEL, temporaryFolder } from './cli.js';

const folder = temporaryFolder('plan');
const db = join(folder.path, 'plan.sqlite');
const jobPath = join(folder.path, 'job.json');
const TAUS = [1e-4, 1e-3, 0.01, 0.1, 1];
const quiet = (): void => {};

before(() => {
  // 3 windows × 2 depths = 6 runs of 349 positions.
  writeFileSync(jobPath, JSON.stringify({ name: 'planned', models: [SHARED_MODEL], data: [{ path: SHARED_DATA, length: 350, stride: 300, count: 3 }], dmax: [5, 40], tau: TAUS }));
});
after(() => folder.remove());

const digest = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('plan', () => {
  test('chain steps: Σ min(t, Dmax) over a run\'s positions', () => {
    for (const [positions, dmax] of [[1, 0], [1, 5], [5, 5], [6, 5], [7, 5], [1023, 50], [40, 50], [511, 20]]) {
      let steps = 0;
      for (let t = 0; t < positions; t++) steps += Math.min(t, dmax);
      assert.equal(chainSteps(positions, dmax), steps, `P=${positions} Dmax=${dmax}`);
    }
  });

  test('before the run: every run and position to compute, a disk and time estimate, and no database written', () => {
    const plan = planJob(loadJobFile(jobPath), { threads: 2, database: db, calibrationSeconds: 0.2, log: quiet });
    assert.equal(existsSync(db), false, 'plan creates no database');
    assert.deepEqual(plan.runs, { total: 6, done: 0, partial: 0 });
    assert.deepEqual(plan.positions, { total: 6 * 349, stored: 0, toCompute: 6 * 349 });
    assert.deepEqual(plan.byDmax, [{ dmax: 5, runs: 3, positions: 3 * 349 }, { dmax: 40, runs: 3, positions: 3 * 349 }]);
    assert.equal(plan.disk.source, 'model');
    assert.equal(plan.disk.toWriteBytes, plan.disk.jobBytes);
    const modelled = [5, 40].reduce((sum, dmax) => sum + estimateStoreBytes({ positions: 3 * 349, taus: TAUS.length, dmax, runs: 3, depthCurves: false }), 0);
    assert.ok(Math.abs(plan.disk.jobBytes - modelled) < 1e-6 * modelled, 'the job is the sum of its runs');
    assert.ok(plan.time.engine && plan.time.engine.base > 0 && plan.time.engine.perDepth > 0);
    assert.ok(plan.time.seconds > 0 && plan.time.computeSeconds > 0 && plan.time.writeSeconds > 0);
  });

  test('after a run, plan measures the bytes per position the database takes, and writes nothing', async () => {
    const partial = await cliHere(['run', jobPath, '--db', db, '--dmax', '5', '--no-report']);
    assert.equal(partial.code, 0, partial.stderr);
    const before = { digest: digest(db), size: statSync(db).size };
    const handle = openDatabase(db, { readonly: true });
    const runs = listRuns(handle);
    const actual = databaseUsedBytes(handle);
    handle.close();
    assert.equal(runs.length, 3);
    const modelled = estimateStoreBytes({ positions: 3 * 349, taus: TAUS.length, dmax: 5, runs: 3, depthCurves: false });
    assert.ok(actual > 0 && modelled > 0);
    // What the database holds is planned at the bytes it measures.
    const holding = planJob({ ...loadJobFile(jobPath), dmax: [5] }, { threads: 1, database: db, calibrationSeconds: 0.2, log: quiet });
    assert.equal(holding.positions.toCompute, 0);
    assert.ok(Math.abs(holding.disk.jobBytes - actual) < 1e-6 * actual, `plan ${holding.disk.jobBytes} B, the database ${actual} B`);

    const plan = planJob(loadJobFile(jobPath), { threads: 1, database: db, calibrationSeconds: 0.2, log: quiet });
    assert.deepEqual(plan.runs, { total: 6, done: 3, partial: 0 });
    assert.deepEqual(plan.positions, { total: 6 * 349, stored: 3 * 349, toCompute: 3 * 349 });
    assert.equal(plan.disk.source, 'database');
    assert.ok(plan.disk.scale !== null && Math.abs(plan.disk.scale - actual / modelled) < 1e-9);
    assert.ok(plan.disk.toWriteBytes < plan.disk.jobBytes);

    // The CLI says the same, and writes nothing.
    const text = await cliHere(['plan', jobPath, '--db', db]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /runs +6 \(3 done, 0 partly done, 3 to compute\), 5 τ each/);
    assert.match(text.stdout, /positions +2,094 \(1,047 in the database, 1,047 to compute\)/);
    assert.match(text.stdout, /as measured on the database's finished runs/);
    assert.match(text.stdout, /time +about \S+ on \d+ threads?/);
    assert.deepEqual({ digest: digest(db), size: statSync(db).size }, before, 'plan leaves the database as it was');

    const done = await cliHere(['run', jobPath, '--db', db, '--no-report']);
    assert.equal(done.code, 0, done.stderr);
    const json = await cliHere(['plan', jobPath, '--db', db, '--format', 'json']);
    assert.equal(json.code, 0, json.stderr);
    const finished = JSON.parse(json.stdout) as { runs: { done: number }; positions: { toCompute: number }; disk: { toWriteBytes: number }; time: { seconds: number } };
    assert.equal(finished.runs.done, 6);
    assert.equal(finished.positions.toCompute, 0);
    assert.equal(finished.disk.toWriteBytes, 0);
    assert.equal(finished.time.seconds, 0);
  });
});
