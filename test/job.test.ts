import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { InputError } from '../src/errors.js';
import { applyOverrides, logGrid, parseJob, requestedPositions, windowsOf, type DataSource } from '../src/job/index.js';
import { defaultThreads, POSITIONS_PER_THREAD, threadsForJob } from '../src/runner/threads.js';
import { expandJob, runIdentity } from '../src/job/expand.js';
import { cliHere, SHARED_DATA, SHARED_MODEL, temporaryFolder } from './cli.js';

const folder = temporaryFolder('job');
after(() => folder.remove());

const parse = (raw: unknown) => parseJob(raw, 'job file test.json', (path) => resolve('/jobs', path));
const valid = { name: 'ok', models: ['m.bin'], data: [{ path: 'd.txt', length: 100 }] };

function rejects(raw: unknown, message: RegExp): void {
  assert.throws(() => parse(raw), (error: unknown) => {
    assert.ok(error instanceof InputError, `an InputError, got ${String(error)}`);
    assert.match(error.message, /^job file test\.json: /);
    assert.match(error.message, message);
    return true;
  });
}

describe('job file validation names the field and what is wrong', () => {
  test('a valid job: defaults, paths relative to the job file, single values as lists of one', () => {
    const job = parse({ models: 'm.bin', data: 'd.txt' });
    assert.deepEqual(job.models, ['/jobs/m.bin']);
    assert.deepEqual(job.data, [{ path: '/jobs/d.txt', offset: 0, length: 1024, stride: 1024, count: 1 }]);
    assert.deepEqual(job.dmax, [50]);
    assert.deepEqual(job.tau, [1e-5, 1e-4, 1e-3, 0.01, 0.1, 1, 10]);
    assert.equal(job.db, undefined);
  });

  test('each bad field gets its own message', () => {
    rejects([], /\(top level\): must be an object/);
    rejects({ data: ['d'] }, /models: is required/);
    rejects({ ...valid, models: [] }, /models: must not be empty/);
    rejects({ ...valid, models: [3] }, /models\[0\]: must be a non-empty string, got 3/);
    rejects({ ...valid, modles: ['x'] }, /modles: unknown field/);
    rejects({ ...valid, data: [{ path: 'd', lenght: 5 }] }, /data\[0\]\.lenght: unknown field/);
    rejects({ ...valid, data: [{ path: 'd', length: 1 }] }, /data\[0\]\.length: must be an integer ≥ 2, got 1/);
    rejects({ ...valid, data: [{ path: 'd', offset: -1 }] }, /data\[0\]\.offset: must be an integer ≥ 0, got -1/);
    rejects({ ...valid, data: [{ path: 'd', count: 3 }] }, /data\[0\]\.stride: is required when count is not 1/);
    rejects({ ...valid, data: [{ path: 'd', count: 'some', stride: 2 }] }, /data\[0\]\.count: must be an integer ≥ 1, got "some"/);
    rejects({ ...valid, dmax: [50, 2.5] }, /dmax\[1\]: must be an integer ≥ 0 and ≤ 65536, got 2\.5/);
    rejects({ ...valid, tau: [0.1, -1] }, /tau\[1\]: must be a number > 0, got -1/);
    rejects({ ...valid, tau: [0.1, '0.2'] }, /tau\[1\]: must be a number > 0, got "0\.2"/);
    rejects({ ...valid, tau: [0.1, 0.1000000001] }, /tau\[1\]: 0\.1000000001 is the same float32 threshold as tau\[0\]/);
    rejects({ ...valid, tau: { from: 0, to: 1, perDecade: 3 } }, /tau\.from: must be a number > 0, got 0/);
    rejects({ ...valid, tau: { from: 1, to: 0.1, perDecade: 3 } }, /tau\.to: must be a number ≥ from/);
    rejects({ ...valid, tau: { from: 1e-3, to: 1, perDecade: 0 } }, /tau\.perDecade: must be an integer ≥ 1, got 0/);
    rejects({ ...valid, tau: { from: 1e-3, to: 1, step: 2 } }, /tau\.step: unknown field/);
    rejects({ ...valid, name: 'no spaces' }, /name: must be letters/);
    rejects({ ...valid, dmax: [1e9] }, /dmax\[0\]: must be an integer ≥ 0 and ≤ 65536, got 1000000000/);
    rejects({ ...valid, tau: { from: 0.5, to: 0.6, perDecade: 1 } }, /tau: the grid from 0\.5 to 0\.6 holds no threshold/);
    rejects({ ...valid, tau: [0.1, 1e-50] }, /tau\[1\]: 1e-50 rounds to 0 as a float32/);
    rejects({ ...valid, tau: [1e39] }, /tau\[0\]: 1e\+39 rounds to infinity as a float32/);
    rejects({ ...valid, tau: Array.from({ length: 10_001 }, (_, k) => (k + 1) / 1000) }, /tau: 10001 thresholds; at most 10000/);
  });

  test('a log-spaced τ grid gives the round decimal values', () => {
    assert.deepEqual(logGrid(1e-6, 10, 1), [1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.1, 1, 10]);
    const grid = logGrid(1e-6, 10, 10);
    assert.equal(grid.length, 71);
    assert.equal(grid[0], 1e-6);
    assert.equal(grid[40], 0.01);
    assert.equal(grid[70], 10);
    assert.equal(grid[5], 3.16227766017e-6);
    assert.deepEqual(parse({ ...valid, tau: { from: 0.01, to: 1, perDecade: 2 } }).tau, [0.01, 0.0316227766017, 0.1, 0.316227766017, 1]);
  });

  test('windows: count, stride, and "all" windows that fit', () => {
    const source = (fields: Partial<DataSource>): DataSource => ({ path: 'd', offset: 0, length: 10, stride: 10, count: 1, ...fields });
    assert.deepEqual([...windowsOf(source({ count: 3, stride: 4, offset: 2 }), 100)], [
      { offset: 2, length: 10 },
      { offset: 6, length: 10 },
      { offset: 10, length: 10 },
    ]);
    assert.deepEqual([...windowsOf(source({ count: 'all', stride: 5 }), 22)].map((w) => w.offset), [0, 5, 10]);
    assert.deepEqual([...windowsOf(source({ count: 'all', length: 50 }), 22)], [{ offset: 0, length: 50 }]);
  });

  test('command-line flags override the job', () => {
    const job = applyOverrides(parse(valid), { model: 'x.bin', data: 'some/text.txt', length: 64, dmax: 7, tau: '0.5, 2' });
    // Relative paths are taken from the working directory and kept absolute, so `resume` works from anywhere.
    assert.deepEqual(job.models, [resolve('x.bin')]);
    assert.equal(job.data[0].path, resolve('some/text.txt'));
    assert.equal(job.data[0].length, 64);
    assert.deepEqual(job.dmax, [7]);
    assert.deepEqual(job.tau, [0.5, 2]);
    assert.throws(() => applyOverrides(job, { tau: '0.1,abc' }), /command line: --tau\[1\]: "abc" is not a number/);
  });
});

describe('job expansion', () => {
  test('one run per model × window × Dmax, each identified by content and parameters', () => {
    const job = parseJob(
      { models: [SHARED_MODEL], data: [{ path: SHARED_DATA, length: 200, stride: 100, count: 3 }], dmax: [5, 9], tau: [0.01] },
      'test',
      (path) => path,
    );
    const logged: string[] = [];
    const expanded = expandJob(job, (line) => logged.push(line));
    assert.equal(expanded.runs.length, 6);
    assert.equal(new Set(expanded.runs.map((run) => run.runId)).size, 6);
    assert.deepEqual(expanded.runs.map((run) => [run.data.offset, run.dmax]), [[0, 5], [0, 9], [100, 5], [100, 9], [200, 5], [200, 9]]);
    assert.equal(expandJob(job, () => {}).sha256, expanded.sha256, 'the same job expands to the same identity');
    const first = expanded.runs[0];
    const identity = { modelSha256: first.model.sha256, dataSha256: first.data.sha256, dmax: 5, taus: [0.01], gate: first.gate, rule: first.rule };
    assert.equal(runIdentity(identity), first.runId);
    assert.notEqual(runIdentity({ ...identity, taus: [0.02] }), first.runId);
    assert.notEqual(runIdentity({ ...identity, dmax: 6 }), first.runId);
    assert.equal(runIdentity({ ...identity, taus: [0.0100000000001] }), first.runId, 'τ is compared as float32');
  });

  test('a window with the same content as an earlier one is computed once', () => {
    const path = join(folder.path, 'repeat.txt');
    writeFileSync(path, 'abcdefgh'.repeat(8));
    const job = parseJob({ models: [SHARED_MODEL], data: [{ path, length: 16, stride: 8, count: 'all' }], tau: [0.01] }, 'test', (p) => p);
    const logged: string[] = [];
    const expanded = expandJob(job, (line) => logged.push(line));
    assert.equal(expanded.runs.length, 1);
    assert.equal(logged.length, 6);
    assert.match(logged[0], /same content and parameters as an earlier window/);
  });
});

describe('requestedPositions and the default threads', () => {
  const job = (data: unknown[], extra: Record<string, unknown> = {}) => parseJob({ models: [SHARED_MODEL], data, tau: [0.01], ...extra }, 'test', (path) => path);

  test('requestedPositions counts what the expansion computes, from the files\' sizes alone', () => {
    const spec = job([{ path: SHARED_DATA, length: 200, stride: 300, count: 4 }], { dmax: [5, 9] });
    const expanded = expandJob(spec, () => {});
    const computed = expanded.runs.reduce((sum, run) => sum + run.positions, 0);
    // Windows at 0, 300, 600 and 900 of a 1,024-byte file: the last is 124 bytes long.
    assert.equal(computed, 2 * (3 * 199 + 123));
    assert.equal(requestedPositions(spec, (path) => statSync(path).size), computed);
    assert.equal(requestedPositions(spec, () => 0), 0, 'a window past the end has no positions');
  });

  test('defaultThreads: one per core, and one per POSITIONS_PER_THREAD positions, at least one', () => {
    const cores = availableParallelism();
    assert.equal(defaultThreads(), cores);
    assert.equal(defaultThreads(0), 1);
    assert.equal(defaultThreads(1023), 1);
    assert.equal(defaultThreads(2 * POSITIONS_PER_THREAD - 1), 1);
    assert.equal(defaultThreads(2 * POSITIONS_PER_THREAD), Math.min(cores, 2));
    assert.equal(defaultThreads(1e9), cores);
  });

  test('threadsForJob: the Q1 job gets one thread; a job whose file cannot be read, one per core', () => {
    assert.equal(threadsForJob(job([{ path: SHARED_DATA }])), 1);
    assert.equal(threadsForJob(job([{ path: join(folder.path, 'missing.txt') }])), availableParallelism());
  });
});

describe('the CLI rejects bad jobs with exit code 2', () => {
  test('invalid JSON, a bad field, a missing file, a missing input', async () => {
    const broken = join(folder.path, 'broken.json');
    writeFileSync(broken, '{"models": [');
    let result = await cliHere(['run', broken, '--db', join(folder.path, 'x.sqlite')]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /job file .*broken\.json: not valid JSON/);

    const badField = join(folder.path, 'bad-field.json');
    writeFileSync(badField, JSON.stringify({ models: [SHARED_MODEL], data: [{ path: SHARED_DATA }], dmax: ['fifty'] }));
    result = await cliHere(['run', badField, '--db', join(folder.path, 'x.sqlite')]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /job file .*bad-field\.json: dmax\[0\]: must be an integer ≥ 0 and ≤ 65536, got "fifty"/);

    result = await cliHere(['run', join(folder.path, 'absent.json')]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /job file .*absent\.json: cannot read: no such file/);

    result = await cliHere(['run', '--model', join(folder.path, 'no-model.bin'), '--data', SHARED_DATA, '--db', join(folder.path, 'x.sqlite')]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /model .*no-model\.bin: cannot read: no such file .*fetch-inputs/);

    result = await cliHere(['run', '--threads', '0']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--threads: must be an integer ≥ 1, got 0/);

    // 10,000 threads crashed Node after a minute; plan and worker check --threads as run does.
    for (const command of [['run'], ['plan'], ['worker', '--queue', 'redis://127.0.0.1:1', '--segments', folder.path]]) {
      result = await cliHere([...command, '--threads', '10000']);
      assert.equal(result.code, 2, command[0]);
      assert.match(result.stderr, /--threads: at most 256, got 10000/);
    }
    result = await cliHere(['plan', '--threads', '0']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--threads: must be an integer ≥ 1, got 0/);

    result = await cliHere(['report', '--db', join(folder.path, 'nothing-here.sqlite')]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /database .*nothing-here\.sqlite: no such file/);

    result = await cliHere(['frobnicate']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /Unknown argument: frobnicate/);
  });
});
