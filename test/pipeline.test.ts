import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exactSum } from '../src/engine/exactSum.js';
import { openDatabase } from '../src/store/index.js';
import { cliHere, publishedJobArgs, resultRows, REFERENCE_POSITIONS, temporaryFolder } from './cli.js';
import { printed, publishedFigures, type PublishedFigures } from './reference.js';

interface ReportJson {
  model: { hidden: number; significant: PublishedFigures['significant'] };
  positions: number;
  bpc: number;
  sparsity: PublishedFigures['sparsity'];
  classes: (PublishedFigures['classes'][number] & { wh_share: number })[];
  never_active: PublishedFigures['never_active'] & { tau: number };
  depth: PublishedFigures['depth'];
}

const published = publishedFigures();
const folder = temporaryFolder('pipeline');
const dbPath = join(folder.path, 'q1.sqlite');
let report: ReportJson;

before(async () => {
  const run = await cliHere(publishedJobArgs(dbPath));
  assert.equal(run.code, 0, run.stderr);
  const printedReport = await cliHere(['report', '--db', dbPath, '--format', 'json']);
  assert.equal(printedReport.code, 0, printedReport.stderr);
  report = JSON.parse(printedReport.stdout) as ReportJson;
});
after(() => folder.remove());

describe('the published Q1 job, run and reported through the CLI', () => {
  test('report JSON equals every published figure at its printed precision', () => {
    assert.deepEqual(report.model.significant, published.significant);
    assert.equal(report.model.hidden, 128);
    assert.equal(report.positions, published.positions);
    assert.equal(printed(report.bpc, 4), published.bpc);
    assert.equal(report.sparsity.length, published.sparsity.length);
    report.sparsity.forEach((row, k) => {
      const want = published.sparsity[k];
      assert.equal(row.tau, want.tau);
      assert.equal(printed(row.mean, 1), want.mean, `mean at τ=${row.tau}`);
      assert.equal(row.median, want.median, `median at τ=${row.tau}`);
      assert.equal(row.min, want.min);
      assert.equal(row.max, want.max, `max at τ=${row.tau}`);
      assert.equal(printed(row.fraction, 3), want.fraction);
    });
    report.classes.forEach((row, k) => {
      const want = published.classes[k];
      assert.equal(row.tau, want.tau);
      assert.equal(printed(row.mean_wx, 1), want.mean_wx);
      assert.equal(printed(row.mean_wh, 1), want.mean_wh);
      assert.equal(printed(row.mean_wy, 1), want.mean_wy);
    });
    const { tau, ...neverActive } = report.never_active;
    assert.equal(tau, 0.01);
    assert.deepEqual(neverActive, published.never_active);
    assert.equal(report.depth.length, published.depth.length);
    report.depth.forEach((row, k) => {
      assert.equal(row.d, published.depth[k].d);
      assert.equal(printed(row.mean_mass, 4), published.depth[k].mean_mass, `depth mass at d=${row.d}`);
      assert.equal(printed(row.fraction, 4), published.depth[k].fraction, `depth fraction at d=${row.d}`);
    });
  });

  test('the text report shows the headline figures of the results page', async () => {
    const text = await cliHere(['report', '--db', dbPath]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /Significant patterns \(\|w\| > 0\.01\): 44,794/);
    assert.match(text.stdout, /Median active patterns at τ = 0\.01: 15 of 44,794; mean 1,165\.8/);
    assert.match(text.stdout, /Wh patterns active somewhere \(τ = 0\.01\): 95\.5%/);
    assert.match(text.stdout, /Depth peak \(d ≥ 1\): d = 21, mean mass 0\.8271/);
    const md = await cliHere(['report', '--db', dbPath, '--format', 'md']);
    assert.equal(md.code, 0, md.stderr);
    assert.match(md.stdout, /\| 0\.01 \| 1,165\.8 \| 15 \|/);
  });

  test('the CSV report is one tidy table whose figures are the JSON report\'s', async () => {
    const csv = await cliHere(['report', '--db', dbPath, '--format', 'csv']);
    assert.equal(csv.code, 0, csv.stderr);
    const [header, ...lines] = csv.stdout.trimEnd().split('\n');
    assert.equal(header, 'section,tau,d,class,measure,value');
    const rows = lines.map((line) => line.split(','));
    assert.ok(rows.every((row) => row.length === 6), 'every line has the six columns (no blank lines, no second header)');
    const json = JSON.parse((await cliHere(['report', '--db', dbPath, '--format', 'json'])).stdout) as { sparsity: { tau: number; mean: number; median: number; max: number }[]; depth: { d: number; mean_mass: number }[] };
    const figure = (section: string, key: (row: string[]) => boolean, measure: string): number =>
      Number(rows.find((row) => row[0] === section && row[4] === measure && key(row))?.[5]);
    for (const entry of json.sparsity) {
      for (const measure of ['mean', 'median', 'max'] as const) assert.equal(figure('sparsity', (row) => Number(row[1]) === entry.tau, measure), entry[measure]);
    }
    for (const entry of json.depth) assert.equal(figure('depth', (row) => Number(row[2]) === entry.d, 'mean_mass'), entry.mean_mass);
  });

  test('SQL aggregates equal the same aggregates computed in TypeScript from the stored rows', async () => {
    // The same job keeping every depth curve: the same figures, and the per-position masses to check them against.
    const curvesPath = join(folder.path, 'q1-curves.sqlite');
    const curvesRun = await cliHere([...publishedJobArgs(curvesPath), '--depth-curves']);
    assert.equal(curvesRun.code, 0, curvesRun.stderr);
    const curvesReport = await cliHere(['report', '--db', curvesPath, '--format', 'json']);
    assert.deepEqual(JSON.parse(curvesReport.stdout), report, 'depth curves change no figure');
    const db = openDatabase(curvesPath, { readonly: true });
    try {
      const counts = db.prepare('SELECT tau, t, n_x, n_h, n_y FROM counts').all() as { tau: number; t: number; n_x: number; n_h: number; n_y: number }[];
      const taus = [...new Set(counts.map((row) => row.tau))].sort((a, b) => a - b);
      assert.deepEqual(taus, report.sparsity.map((row) => row.tau));
      for (const [k, tau] of taus.entries()) {
        const rows = counts.filter((row) => row.tau === tau);
        const n = rows.map((row) => row.n_x + row.n_h + row.n_y).sort((a, b) => a - b);
        const sum = (values: number[]): number => values.reduce((total, value) => total + value, 0);
        // Integer sums are exact, so the means must agree to the last bit.
        assert.equal(report.sparsity[k].mean, sum(n) / n.length);
        assert.equal(report.sparsity[k].median, n[Math.floor((n.length - 1) / 2)]);
        assert.equal(report.sparsity[k].min, n[0]);
        assert.equal(report.sparsity[k].max, n[n.length - 1]);
        assert.equal(report.classes[k].mean_wx, sum(rows.map((row) => row.n_x)) / rows.length);
        assert.equal(report.classes[k].mean_wh, sum(rows.map((row) => row.n_h)) / rows.length);
        assert.equal(report.classes[k].mean_wy, sum(rows.map((row) => row.n_y)) / rows.length);
      }
      // Real-valued means are exact sums divided by the count, whatever the shards were.
      const surprisal = (db.prepare('SELECT surprisal_bits FROM positions').all() as { surprisal_bits: number }[]).map((row) => row.surprisal_bits);
      assert.equal(report.bpc, exactSum(surprisal) / surprisal.length, 'bpc');
      const mass = db.prepare('SELECT d, t, mass FROM depth_mass').all() as { d: number; t: number; mass: number }[];
      for (const row of report.depth) {
        const values = mass.filter((entry) => entry.d === row.d).map((entry) => entry.mass);
        assert.equal(values.length, 1023 - row.d, `positions with offset ${row.d}`);
        assert.equal(row.mean_mass, exactSum(values) / values.length, `mean mass at d=${row.d}`);
      }
      // Per position: the total mass and the offset d ≥ 1 where it peaks (the first, if tied).
      const positions = db.prepare('SELECT t, mass_total, peak_d FROM positions ORDER BY t').all() as { t: number; mass_total: number; peak_d: number | null }[];
      for (const position of positions) {
        const curve = mass.filter((entry) => entry.t === position.t).sort((a, b) => a.d - b.d);
        assert.equal(position.mass_total, exactSum(curve.map((entry) => entry.mass)), `mass_total at t=${position.t}`);
        const deeper = curve.filter((entry) => entry.d >= 1);
        const peak = deeper.reduce<(typeof deeper)[number] | undefined>((best, entry) => (best === undefined || entry.mass > best.mass ? entry : best), undefined);
        assert.equal(position.peak_d, peak?.d ?? null, `peak_d at t=${position.t}`);
      }
      const peaks = db.prepare(`SELECT class, peak FROM pattern_peaks`).all() as { class: 'wx' | 'wh' | 'wy'; peak: number }[];
      for (const cls of ['wx', 'wh', 'wy'] as const) {
        const active = peaks.filter((row) => row.class === cls && row.peak > Math.fround(0.01)).length;
        assert.equal(report.never_active[cls].never, report.never_active[cls].of - active);
      }
    } finally {
      db.close();
    }
  });

  test('export matches the published per-position counts row for row', async () => {
    const exported = await cliHere(['export', '--db', dbPath]);
    assert.equal(exported.code, 0, exported.stderr);
    const lines = exported.stdout.trimEnd().split('\n');
    assert.equal(lines[0], 't,y,tau,n_x,n_h,n_y');
    const reference = readFileSync(REFERENCE_POSITIONS, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, reference.length);
    for (let k = 1; k < reference.length; k++) {
      const want = reference[k].split('\t').map(Number);
      const got = lines[k].split(',').map(Number);
      assert.deepEqual(got, want, `row ${k}: ${lines[k]} vs ${reference[k]}`);
    }
  });

  test('sql answers an ad-hoc query, as a table, JSON and CSV, and refuses writes unless asked', async () => {
    const query = 'SELECT tau, count(*) AS positions, max(n_h) AS max_nh FROM counts WHERE tau >= 0.1 GROUP BY tau ORDER BY tau';
    const json = await cliHere(['sql', query, '--db', dbPath, '--format', 'json']);
    assert.equal(json.code, 0, json.stderr);
    const rows = JSON.parse(json.stdout) as { tau: number; positions: number; max_nh: number }[];
    assert.deepEqual(rows.map((row) => [row.tau, row.positions]), [[0.1, 1023], [1, 1023], [10, 1023]]);
    const csv = await cliHere(['sql', query, '--db', dbPath, '--format', 'csv']);
    assert.equal(csv.stdout.split('\n')[0], 'tau,positions,max_nh');
    const table = await cliHere(['sql', query, '--db', dbPath]);
    assert.match(table.stdout, /^tau\s+positions\s+max_nh$/m);
    const write = await cliHere(['sql', 'DELETE FROM count_blocks', '--db', dbPath]);
    assert.equal(write.code, 2);
    assert.match(write.stderr, /read-only.*--write/);
    const bad = await cliHere(['sql', 'SELECT nope FROM counts', '--db', dbPath]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /no such column: nope/);
  });

  test('sql --attach reads another database beside this one, read-only, under its name', async () => {
    const query = 'SELECT (SELECT count(*) FROM runs) AS here, (SELECT count(*) FROM other.runs) AS there, (SELECT count(*) FROM other.counts) AS counts';
    const json = await cliHere(['sql', '--attach', `other=${dbPath}`, query, '--db', dbPath, '--format', 'json']);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), [{ here: 1, there: 1, counts: 7 * 1023 }]);
    // Two attachments, and sparsetrace's SQL functions on the attached tables.
    const two = await cliHere(['sql', '--attach', `a=${dbPath}`, '--attach', `b=${dbPath}`, 'SELECT count(*) AS n FROM a.counts JOIN b.counts USING (run_id, t, tau) WHERE sig(tau, 3) = 0.01', '--db', dbPath, '--format', 'csv']);
    assert.equal(two.code, 0, two.stderr);
    assert.equal(two.stdout, 'n\n1023\n');
  });

  test('--out writes every format of report, and explain, to the file (nothing on stdout); stdout gets the same bytes without it', async () => {
    const outputs = temporaryFolder('out');
    const folder = outputs.path;
    try {
      for (const format of ['text', 'md', 'csv', 'json']) {
        const path = join(folder, `report.${format}`);
        const written = await cliHere(['report', '--format', format, '--db', dbPath, '--out', path]);
        assert.equal(written.code, 0, written.stderr);
        assert.equal(written.stdout, '', `${format}: nothing on stdout`);
        assert.match(written.stderr, new RegExp(`wrote ${path.replace(/[.]/g, '\\.')}`));
        const printed = await cliHere(['report', '--format', format, '--db', dbPath]);
        assert.equal(readFileSync(path, 'utf8'), printed.stdout, `${format}: the file holds what stdout would`);
      }
      const path = join(folder, 'explain.json');
      const explained = await cliHere(['explain', '--t', '10', '--format', 'json', '--db', dbPath, '--out', path]);
      assert.equal(explained.code, 0, explained.stderr);
      assert.equal(explained.stdout, '');
      assert.equal(readFileSync(path, 'utf8'), (await cliHere(['explain', '--t', '10', '--format', 'json', '--db', dbPath])).stdout);
      assert.deepEqual(readdirSync(folder).sort(), ['explain.json', 'report.csv', 'report.json', 'report.md', 'report.text'], 'no temporary file left');
    } finally {
      outputs.remove();
    }
  });

  test('running the same job again computes nothing and keeps one copy of every row', async () => {
    const before = openDatabase(dbPath, { readonly: true });
    const rowsBefore = before.prepare('SELECT count(*) AS n FROM counts').get() as { n: number };
    before.close();
    const again = await cliHere(publishedJobArgs(dbPath));
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /1023 already computed/);
    assert.match(again.stderr, /1 run already done in .*; nothing to compute/);
    const db = openDatabase(dbPath, { readonly: true });
    assert.deepEqual(db.prepare('SELECT count(*) AS n FROM counts').get(), rowsBefore);
    assert.deepEqual(db.prepare('SELECT count(*) AS jobs FROM jobs').get(), { jobs: 1 });
    db.close();
  });
});

describe('results do not depend on threads or shard size', () => {
  test('1, 2 and 3 threads and shard sizes 1000, 100 and 37 give identical databases', async () => {
    const reference = resultRows(dbPath);
    for (const [threads, shardSize] of [[1, 1000], [2, 100], [3, 37]]) {
      const path = join(folder.path, `t${threads}-s${shardSize}.sqlite`);
      const run = await cliHere([...publishedJobArgs(path), '--threads', String(threads), '--shard-size', String(shardSize)]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(resultRows(path), reference, `threads ${threads}, shard size ${shardSize}`);
    }
  });
});
