import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { smallModelFile } from './random-model.js';
import { cliHere, SHARED_DATA, SHARED_MODEL, temporaryFolder } from './cli.js';

const folder = temporaryFolder('sweep');
const db = join(folder.path, 'sweep.sqlite');
const smallModel = join(folder.path, 'small-h8.bin');

const jobPath = join(folder.path, 'two-models.json');
const TAUS = [0.001, 0.01, 0.1];
// 2 models × 3 windows × 2 depths = 12 runs of 199 positions.
before(async () => {
  writeFileSync(smallModel, smallModelFile(20261124));
  writeFileSync(
    jobPath,
    JSON.stringify({ name: 'two-models', models: [SHARED_MODEL, smallModel], data: [{ path: SHARED_DATA, length: 200, stride: 300, count: 3 }], dmax: [5, 25], tau: TAUS }),
  );
  const run = await cliHere(['run', jobPath, '--db', db, '--no-report']);
  assert.equal(run.code, 0, run.stderr);
});
after(() => folder.remove());

describe('reports and exports over a sweep', () => {
  test('a report over runs of several models is grouped by model, whatever else it is grouped by', async () => {
    const mixed = await cliHere(['report', '--db', db, '--format', 'json', '--by', 'dmax']);
    assert.equal(mixed.code, 0, mixed.stderr);
    assert.match(mixed.stderr, /note: the selected runs use 2 models: one row per model \(grouped by model too\)/);
    const mixedGroups = JSON.parse(mixed.stdout) as { by: string[]; groups: { group: { model: string; dmax: number }; runs: string[] }[] };
    assert.deepEqual(mixedGroups.by, ['model', 'dmax']);
    assert.deepEqual(
      mixedGroups.groups.map((group) => [group.group.model.includes('small-h8') ? 'small' : 'sat', group.group.dmax, group.runs.length]),
      [['sat', 5, 3], ['sat', 25, 3], ['small', 5, 3], ['small', 25, 3]],
    );
    const unpooled = await cliHere(['report', '--db', db, '--by', 'model', '--format', 'json']);
    assert.deepEqual((JSON.parse(unpooled.stdout) as { by: string[] }).by, ['model', 'dmax'], 'Dmax 5 and 25 are not pooled unless asked');
    const byModel = await cliHere(['report', '--db', db, '--by', 'model', '--pool', '--format', 'json']);
    assert.match(byModel.stderr, /note: pooling runs of Dmax 5, 25 as asked/);
    assert.equal(byModel.code, 0, byModel.stderr);
    const groups = (JSON.parse(byModel.stdout) as { groups: { group: string; runs: string[]; positions: number; model: { hidden: number } }[] }).groups;
    assert.deepEqual(groups.map((group) => [group.model.hidden, group.runs.length, group.positions]), [[128, 6, 6 * 199], [8, 6, 6 * 199]]);
    const text = await cliHere(['report', '--db', db, '--by', 'model', '--pool']);
    assert.equal(text.code, 0, text.stderr);
    assert.equal(text.stdout.trimEnd().split('\n').length, 3 + 2 * TAUS.length, 'title, header, rule and one row per model and τ');
    const byDefault = await cliHere(['report', '--db', db, '--format', 'json']);
    assert.equal(byDefault.code, 0, byDefault.stderr);
    assert.deepEqual((JSON.parse(byDefault.stdout) as { by: string[] }).by, ['model', 'dmax'], 'runs of two models and two Dmax are grouped by default');
    assert.match(byDefault.stderr, /note: the selected runs use 2 models: one row per model/);
  });

  test('--by dmax and --by window within one model: groups are the SQL figures of their runs', async () => {
    const byDmax = await cliHere(['report', '--db', db, '--model', SHARED_MODEL, '--by', 'dmax', '--format', 'json']);
    assert.equal(byDmax.code, 0, byDmax.stderr);
    const groups = (JSON.parse(byDmax.stdout) as { groups: { group: string; runs: string[]; sparsity: { tau: number; mean: number }[] }[] }).groups;
    assert.deepEqual(groups.map((group) => [group.group, group.runs.length]), [[5, 3], [25, 3]], 'Dmax keys are numbers');
    // Each group equals a report over just its runs.
    for (const group of groups) {
      const alone = await cliHere(['report', '--db', db, '--format', 'json', ...group.runs.flatMap((run) => ['--run', run])]);
      assert.equal(alone.code, 0, alone.stderr);
      assert.deepEqual((JSON.parse(alone.stdout) as { sparsity: unknown }).sparsity, group.sparsity);
    }
    // Deeper traces find at least as many patterns above τ on the same windows.
    assert.ok(groups[1].sparsity.every((row, k) => row.mean >= groups[0].sparsity[k].mean));
    const byWindow = await cliHere(['report', '--db', db, '--model', smallModel, '--by', 'window', '--format', 'csv']);
    assert.equal(byWindow.code, 0, byWindow.stderr);
    const lines = byWindow.stdout.trimEnd().split('\n');
    assert.equal(lines[0], 'window,dmax,section,tau,d,class,measure,value', 'a window of runs of two Dmax is split by Dmax too');
    const positions = lines.filter((line) => line.includes(',summary,,,,positions,'));
    assert.deepEqual(
      positions.map((line) => line.replace(/^.*enwik_1024\.txt/, '')),
      ['@0+200,5,summary,,,,positions,199', '@0+200,25,summary,,,,positions,199', '@300+200,5,summary,,,,positions,199', '@300+200,25,summary,,,,positions,199', '@600+200,5,summary,,,,positions,199', '@600+200,25,summary,,,,positions,199'],
    );
    // --by window,dmax says the same without a note; --pool pools them inside each window, as asked.
    const both = await cliHere(['report', '--db', db, '--model', smallModel, '--by', 'window,dmax', '--format', 'csv']);
    assert.equal(both.stdout, byWindow.stdout);
    const repeated = await cliHere(['report', '--db', db, '--model', smallModel, '--by', 'window', '--by', 'dmax', '--format', 'csv']);
    assert.equal(repeated.stdout, byWindow.stdout, '--by window --by dmax is --by window,dmax');
    assert.doesNotMatch(both.stderr, /Dmax/);
    const pooledWindows = await cliHere(['report', '--db', db, '--model', smallModel, '--by', 'window', '--pool', '--format', 'csv']);
    assert.deepEqual(
      pooledWindows.stdout.split('\n').filter((line) => line.includes(',summary,,,,positions,')).map((line) => line.replace(/^.*enwik_1024\.txt/, '')),
      ['@0+200,summary,,,,positions,398', '@300+200,summary,,,,positions,398', '@600+200,summary,,,,positions,398'],
    );
    // A model's runs mix Dmax 5 and 25: grouped by Dmax unless asked otherwise.
    const mixedDmax = await cliHere(['report', '--db', db, '--model', smallModel, '--format', 'json']);
    assert.equal((JSON.parse(mixedDmax.stdout) as { by: string }).by, 'dmax');
    assert.match(mixedDmax.stderr, /note: the selected runs use Dmax 5, 25: one row per Dmax/);
    // Runs named one by one are pooled as asked.
    const named = (JSON.parse(mixedDmax.stdout) as { groups: { runs: string[] }[] }).groups.flatMap((group) => group.runs);
    const pooled = await cliHere(['report', '--db', db, '--format', 'json', ...named.flatMap((run) => ['--run', run])]);
    assert.equal(pooled.code, 0, pooled.stderr);
    assert.deepEqual((JSON.parse(pooled.stdout) as { runs: string[] }).runs, named);
    assert.match(pooled.stderr, /note: pooling the named runs of Dmax 5, 25 as asked/);
  });

  test('export --all writes every run with a leading run column; export of one run needs it chosen', async () => {
    const all = await cliHere(['export', '--db', db, '--all']);
    assert.equal(all.code, 0, all.stderr);
    const lines = all.stdout.trimEnd().split('\n');
    assert.equal(lines[0], 'run,t,y,tau,n_x,n_h,n_y');
    assert.equal(lines.length - 1, 12 * 199 * TAUS.length);
    const handle = new Database(db, { readonly: true });
    const runIds = (handle.prepare('SELECT run_id FROM runs').all() as { run_id: string }[]).map((row) => row.run_id);
    handle.close();
    assert.deepEqual(new Set(lines.slice(1).map((line) => line.split(',')[0])), new Set(runIds));
    const ambiguous = await cliHere(['export', '--db', db]);
    assert.equal(ambiguous.code, 2);
    assert.match(ambiguous.stderr, /12 runs; pick one with --run ID, or export them all with --all/);
    const outPath = join(folder.path, 'one.csv');
    const one = await cliHere(['export', '--db', db, '--run', runIds[0].slice(0, 6), '--out', outPath]);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(one.stdout, '');
    const oneToStdout = await cliHere(['export', '--db', db, '--run', runIds[0]]);
    assert.equal(readFileSync(outPath, 'utf8'), oneToStdout.stdout);
    const expectedRows = lines.filter((line) => line.startsWith(`${runIds[0]},`)).map((line) => line.slice(runIds[0].length + 1));
    assert.deepEqual(oneToStdout.stdout.trimEnd().split('\n'), ['t,y,tau,n_x,n_h,n_y', ...expectedRows]);
    assert.deepEqual(readdirSync(folder.path).filter((name) => name.includes('.partial-')), [], 'no temporary file left');
    const ndjson = await cliHere(['export', '--db', db, '--run', runIds[0], '--format', 'ndjson']);
    assert.deepEqual(
      ndjson.stdout.trimEnd().split('\n').map((line) => Object.values(JSON.parse(line) as object).join(',')),
      expectedRows,
      'NDJSON holds the CSV rows',
    );
  });

  test('export --out into a missing folder and a report on a foreign SQLite file are clear errors', async () => {
    const unwritable = join(folder.path, 'no-such-folder', 'out.csv');
    const refused = await cliHere(['export', '--db', db, '--all', '--out', unwritable]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /--out .*no-such-folder\/out\.csv: cannot write/);
    const foreign = join(folder.path, 'foreign.sqlite');
    const handle = new Database(foreign);
    handle.exec('CREATE TABLE notes (text TEXT)');
    handle.close();
    const report = await cliHere(['report', '--db', foreign]);
    assert.equal(report.code, 2, report.stderr);
    assert.match(report.stderr, /foreign\.sqlite: not a sparsetrace database/);
  });

  test('status shows every run done; runs lists them', async () => {
    const status = await cliHere(['status', '--db', db]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^job 1 two-models: done, 12\/12 runs, 2388\/2388 positions \(100%\)$/m);
    const json = await cliHere(['status', '--db', db, '--format', 'json']);
    const parsed = JSON.parse(json.stdout) as { jobs: { state: string; positions_done: number; run_states: { state: string }[] }[] };
    assert.deepEqual(parsed.jobs.map((job) => [job.state, job.positions_done, job.run_states.filter((run) => run.state === 'done').length]), [['done', 2388, 12]]);
    assert.equal(status.stdout.match(/ done /g)?.length, 12);
    const runs = await cliHere(['runs', '--db', db, '--format', 'json']);
    const listed = JSON.parse(runs.stdout) as { taus: number[] }[];
    assert.equal(listed.length, 12);
    assert.ok(listed.every((run) => JSON.stringify(run.taus) === JSON.stringify(TAUS)), 'τ as an array of numbers');
  });

  test('report --tau picks thresholds; a selection mixing τ lists is grouped by τ list', async () => {
    const picked = await cliHere(['report', '--db', db, '--model', SHARED_MODEL, '--dmax', '5', '--tau', '0.01', '--format', 'json']);
    assert.equal(picked.code, 0, picked.stderr);
    assert.deepEqual((JSON.parse(picked.stdout) as { sparsity: { tau: number }[] }).sparsity.map((row) => row.tau), [0.01]);
    const other = await cliHere(['run', '--model', SHARED_MODEL, '--data', SHARED_DATA, '--length', '200', '--dmax', '5', '--tau', '0.05', '--db', db, '--no-report']);
    assert.equal(other.code, 0, other.stderr);
    const mixed = await cliHere(['report', '--db', db, '--all', '--model', SHARED_MODEL, '--dmax', '5', '--format', 'json']);
    assert.equal(mixed.code, 0, mixed.stderr);
    assert.match(mixed.stderr, /use 2 different τ lists \(0\.001,0\.01,0\.1 \| 0\.05\): one row per τ list/);
    const byList = JSON.parse(mixed.stdout) as { by: string; groups: { group: string; runs: string[]; sparsity: { tau: number }[] }[] };
    assert.equal(byList.by, 'taus');
    assert.deepEqual(
      byList.groups.map((group) => [group.group, group.runs.length, group.sparsity.map((row) => row.tau)]),
      [['0.001,0.01,0.1', 3, TAUS], ['0.05', 1, [0.05]]],
    );
  });

  test('report --sections prints the chosen sections, for every group of a grouped report', async () => {
    const grouped = await cliHere(['report', '--db', db, '--job', 'two-models', '--model', SHARED_MODEL, '--by', 'dmax', '--sections', 'all']);
    assert.equal(grouped.code, 0, grouped.stderr);
    const blocks = grouped.stdout.split(/^== (Dmax \d+) ==\n\n/m).slice(1);
    assert.deepEqual([blocks[0], blocks[2]], ['Dmax 5', 'Dmax 25']);
    // Each group's block is the report of just its runs.
    const json = JSON.parse((await cliHere(['report', '--db', db, '--job', 'two-models', '--model', SHARED_MODEL, '--by', 'dmax', '--format', 'json'])).stdout) as { groups: { runs: string[] }[] };
    for (const [k, group] of json.groups.entries()) {
      const alone = await cliHere(['report', '--db', db, ...group.runs.flatMap((run) => ['--run', run]), '--sections', 'all']);
      assert.equal(blocks[2 * k + 1], alone.stdout + (k + 1 < json.groups.length ? '\n' : ''), 'a blank line between groups');
    }
    const some = await cliHere(['report', '--db', db, '--job', 'two-models', '--model', SHARED_MODEL, '--dmax', '5', '--format', 'md', '--sections', 'depth,sparsity']);
    assert.equal(some.code, 0, some.stderr);
    assert.deepEqual(some.stdout.match(/^### .*$/gm), ['### Sparsity distribution', '### Depth profile'], 'in page order');
    assert.doesNotMatch(some.stdout, /## Q1 sparsity/);
    const refused = await cliHere(['report', '--db', db, '--format', 'html', '--sections', 'all']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--sections: not for --format html/);
    // In JSON and CSV too: only the sections named.
    const depthOnly = JSON.parse((await cliHere(['report', '--db', db, '--job', 'two-models', '--model', SHARED_MODEL, '--dmax', '5', '--format', 'json', '--sections', 'depth'])).stdout) as object;
    assert.deepEqual(Object.keys(depthOnly), ['depth', 'depth_peak']);
    const csv = (await cliHere(['report', '--db', db, '--job', 'two-models', '--model', SHARED_MODEL, '--dmax', '5', '--format', 'csv', '--sections', 'sparsity'])).stdout;
    assert.deepEqual([...new Set(csv.trim().split('\n').slice(1).map((line) => line.split(',')[0]))], ['sparsity']);
    const unknown = await cliHere(['report', '--db', db, '--sections', 'sparsity,colour']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /--sections: "colour" is not a section/);
  });

  test('report --db A --db B compares two stores group by group; other commands take one --db', async () => {
    const copy = join(folder.path, 'sweep-copy.sqlite');
    copyFileSync(db, copy);
    const compared = await cliHere(['report', '--db', db, '--db', copy, '--job', 'two-models', '--model', SHARED_MODEL, '--format', 'json']);
    assert.equal(compared.code, 0, compared.stderr);
    const parsed = JSON.parse(compared.stdout) as { by: string[]; groups: { group: { store: string; dmax: number }; sparsity: unknown; positions: number }[] };
    assert.deepEqual(parsed.by, ['store', 'dmax']);
    assert.deepEqual(parsed.groups.map((group) => [group.group.store, group.group.dmax]), [[db, 5], [db, 25], [copy, 5], [copy, 25]]);
    // The same runs in both stores: the same figures.
    assert.deepEqual(parsed.groups[2].sparsity, parsed.groups[0].sparsity);
    assert.deepEqual(parsed.groups[3].sparsity, parsed.groups[1].sparsity);
    assert.match(compared.stderr, /one row per Dmax/);
    const text = await cliHere(['report', '--db', db, '--db', copy, '--job', 'two-models', '--model', SHARED_MODEL, '--dmax', '5']);
    assert.match(text.stdout, /^Q1 sparsity by store \(6 runs, .*sweep\.sqlite, .*sweep-copy\.sqlite\)\nstore +runs/);
    const status = await cliHere(['status', '--db', db, '--db', copy]);
    assert.equal(status.code, 2);
    assert.match(status.stderr, /--db given 2 times; give it once \(see `sparsetrace status --help`\)/);
    const page = await cliHere(['report', '--db', db, '--db', copy, '--format', 'html']);
    assert.equal(page.code, 2);
    assert.match(page.stderr, /--db: given 2 times .*only `report` in text, md, json or csv compares stores/);
  });
});
