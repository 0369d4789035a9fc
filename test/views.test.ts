import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gatherExplanation } from '../src/report/explain.js';
import { binActiveCounts } from '../src/report/histogram.js';
import { htmlTable } from '../src/report/html.js';
import { listRuns, openDatabase } from '../src/store/index.js';
import { sharedBrowser } from './browser.js';
import { cliHere, SHARED_DATA, SHARED_MODEL, temporaryFolder } from './cli.js';
import { mulberry32, randomModel } from './random-model.js';

const folder = temporaryFolder('views');
const db = join(folder.path, 'views.sqlite');
const TAUS = [1e-5, 1e-4, 1e-3, 0.01, 0.1, 1, 10];

/** Writes random models of hidden size H as model files: 4·(H² + 513·H + 256) bytes. */
function writeRandomModel(path: string, hidden: number, seed: number): void {
  const model = randomModel(mulberry32(seed), hidden, 1);
  writeFileSync(path, new Uint8Array(model.wx.buffer)); // the blocks are views of one buffer in file order
}

const randomModels = [join(folder.path, 'random-h6.bin'), join(folder.path, 'random-h17.bin')];

before(async () => {
  writeRandomModel(randomModels[0], 6, 606);
  writeRandomModel(randomModels[1], 17, 1717);
  const jobs = [
    { name: 'shipped', models: [SHARED_MODEL], data: [{ path: SHARED_DATA, length: 400 }], dmax: [5, 50], tau: TAUS },
    { name: 'random', models: randomModels, data: [{ path: SHARED_DATA, offset: 500, length: 160 }], dmax: [12], tau: [1e-4, 1e-3, 0.01, 0.1, 1] },
  ];
  for (const job of jobs) {
    const path = join(folder.path, `${job.name}.json`);
    writeFileSync(path, JSON.stringify(job));
    const run = await cliHere(['run', path, '--db', db, '--no-report']);
    assert.equal(run.code, 0, run.stderr);
  }
});
after(() => folder.remove());

/** Every (run, t, τ) → stored counts, straight from SQL. */
function storedCounts(): Map<string, [number, number, number]> {
  const handle = openDatabase(db, { readonly: true }); // the counts view needs sparsetrace's SQL functions
  try {
    const rows = handle.prepare('SELECT run_id, t, tau, n_x, n_h, n_y FROM counts').raw().all() as [string, number, number, number, number, number][];
    return new Map(rows.map(([run, t, tau, nx, nh, ny]) => [`${run} ${t} ${tau}`, [nx, nh, ny]]));
  } finally {
    handle.close();
  }
}

describe('explain', () => {
  test('its counts equal the stored n_x, n_h, n_y at every τ, on many positions of every run (shipped and random models)', () => {
    const stored = storedCounts();
    const handle = openDatabase(db, { readonly: true });
    try {
      const runs = listRuns(handle);
      assert.equal(runs.length, 4);
      let checked = 0;
      for (const run of runs) {
        const positions = [0, 1, 2, run.dmax - 1, run.dmax, run.dmax + 1, run.positions - 1];
        for (let t = 3; t < run.positions; t += 17) positions.push(t);
        for (const t of positions) {
          const explanation = gatherExplanation(handle, run, t, 0.01);
          assert.equal(explanation.counts.length, run.taus.length);
          for (const row of explanation.counts) {
            const want = stored.get(`${run.run_id} ${t} ${row.tau}`);
            assert.ok(want, `no stored counts for ${run.run_id} t=${t} τ=${row.tau}`);
            assert.deepEqual([row.n_x, row.n_h, row.n_y], want, `run ${run.run_id} (H=${run.hidden}) t=${t} τ=${row.tau}`);
            assert.deepEqual(row.stored, { n_x: want[0], n_h: want[1], n_y: want[2] });
            checked++;
          }
          // The listing at τ = 0.01 is exactly the patterns counted there.
          const at = explanation.counts.find((row) => row.tau === 0.01);
          if (at) assert.equal(explanation.patterns.length, at.n_x + at.n_h + at.n_y);
        }
      }
      assert.ok(checked > 500, `checked ${checked}`);
    } finally {
      handle.close();
    }
  });

  test('the CLI lists the active patterns as text and JSON, and needs one run', async () => {
    const handle = openDatabase(db, { readonly: true });
    const run = listRuns(handle).find((row) => row.hidden === 128 && row.dmax === 50);
    handle.close();
    assert.ok(run);
    const json = await cliHere(['explain', '--db', db, '--run', run.run_id, '--t', '300', '--tau', '0.1', '--format', 'json']);
    assert.equal(json.code, 0, json.stderr);
    const explanation = JSON.parse(json.stdout) as { t: number; y: number; patterns: { class: string; src: number; dst: number; d: number; attribution: number }[]; counts: { tau: number; n_x: number; n_h: number; n_y: number }[] };
    assert.equal(explanation.t, 300);
    assert.equal(explanation.y, readFileSync(SHARED_DATA)[301]);
    const at = explanation.counts.find((row) => row.tau === 0.1);
    assert.ok(at);
    assert.equal(explanation.patterns.length, at.n_x + at.n_h + at.n_y);
    assert.ok(explanation.patterns.every((p) => p.attribution > Math.fround(0.1)));
    assert.ok(explanation.patterns.every((p, k) => k === 0 || explanation.patterns[k - 1].attribution >= p.attribution));
    const text = await cliHere(['explain', '--db', db, '--run', run.run_id, '--t', '300', '--tau', '0.1', '--limit', '5']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`Active patterns at τ = 0\\.1: ${explanation.patterns.length} \\(the first 5 shown\\)`));
    assert.equal((text.stdout.match(/^\s*\d+ {2}W[xhy] /gm) ?? []).length, 5);
    const ambiguous = await cliHere(['explain', '--db', db, '--job', 'random', '--t', '3']);
    assert.equal(ambiguous.code, 2);
    assert.match(ambiguous.stderr, /2 runs; pick one with --run ID/);
    const outside = await cliHere(['explain', '--db', db, '--run', run.run_id, '--t', '399']);
    assert.equal(outside.code, 2);
    assert.match(outside.stderr, /--t 399: run \w+ has positions 0 \.\. 398/);
  });
});

describe('histogram of active patterns per position', () => {
  test('bins double and keep every position', () => {
    const bins = binActiveCounts([
      { n: 0, positions: 3 },
      { n: 1, positions: 2 },
      { n: 3, positions: 1 },
      { n: 4, positions: 5 },
      { n: 1023, positions: 1 },
      { n: 1024, positions: 7 },
    ]);
    assert.deepEqual(
      bins.map((bin) => [bin.label, bin.positions]),
      [['0', 3], ['1', 2], ['2–3', 1], ['4–7', 5], ['8–15', 0], ['16–31', 0], ['32–63', 0], ['64–127', 0], ['128–255', 0], ['256–511', 0], ['512–1023', 1], ['1024–2047', 7]],
    );
    assert.deepEqual(binActiveCounts([]).map((bin) => bin.label), ['0']);
  });

  test('html tables escape their cells', () => {
    const html = htmlTable({ title: 'a <b>', columns: ['x & y'], rows: [['<script>']] });
    assert.doesNotMatch(html, /<script>|<b>/);
    assert.match(html, /&lt;script&gt;/);
  });
});

interface GroupJson {
  group?: string;
  runs: string[];
  model: { significant: { total: number; wx: number; wh: number; wy: number } };
  positions: number;
  bpc: number;
  sparsity: { tau: number; mean: number; median: number; min: number; max: number; fraction: number }[];
  classes: { tau: number; mean_wx: number; mean_wh: number; mean_wy: number; wh_share: number | null }[];
  never_active: Record<'wx' | 'wh' | 'wy' | 'total', { never: number; of: number }> & { tau: number };
  wh_active_somewhere: number;
  depth: { d: number; mean_mass: number; fraction: number | null }[];
  depth_peak: { d: number } | null;
}

/** A number as the page shows it equals `value` to the digits shown ("1,165.8" ≈ 1165.8123; "87%" ≈ 0.8712). */
function assertShown(text: string, value: number, what: string): void {
  const trimmed = text.trim();
  const isPercent = trimmed.endsWith('%');
  const digits = trimmed.replace(/[,%×]/g, '');
  const shown = Number(digits);
  assert.ok(Number.isFinite(shown), `${what}: "${text}" is not a number`);
  const decimals = digits.includes('.') && !/e/i.test(digits) ? digits.split('.')[1].length : 0;
  const target = isPercent ? 100 * value : value;
  const tolerance = /e/i.test(digits) ? 1e-12 * Math.abs(target) : 0.5 * 10 ** -decimals + 1e-9;
  assert.ok(Math.abs(shown - target) <= tolerance, `${what}: the page shows ${text}, the JSON report has ${value}`);
}

interface PageCapture {
  errors: string[];
  requests: string[];
  figures: Record<string, string>;
  tables: Record<string, string[][]>;
  /** chart name → aria-labels of its data marks (points and bars). */
  marks: Record<string, string[]>;
  charts: string[];
  chartTitles: Record<string, string>;
  /** Visible elements whose right edge passes the page's width (the layout is wider than the page). */
  tooWide: string[];
  /** Pairs of labels drawn over each other in one chart. */
  overlapping: string[];
  /** Marks drawn outside their chart's box. */
  clipped: string[];
  /** Chart texts cut short with an ellipsis (two cut labels may read the same). */
  truncated: string[];
  /** Legend entries whose symbol draws nothing (no stroke, no area). */
  blankSymbols: string[];
  /** Per chart: its legends' labels, and the headers of its small multiples. */
  legends: Record<string, string[]>;
  rowHeaders: Record<string, string[]>;
}

/** The file's pages are loaded in one Chromium (a context each), not one launched per page. */
const chromium = sharedBrowser();
after(() => chromium.close());

/** Loads a page from disk in Chromium and reads what a person would see: figures, tables, chart marks. */
async function capturePage(path: string): Promise<PageCapture> {
  return chromium.withContext(async (browser) => {
    const page = await browser.newPage();
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warn') errors.push(`${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => errors.push(`pageerror: ${String(error)}`));
    page.on('requestfailed', (request) => errors.push(`request failed: ${request.url()}`));
    page.on('request', (request) => requests.push(request.url()));
    const url = pathToFileURL(path).href;
    const response = await page.goto(url, { waitUntil: 'networkidle0' });
    assert.ok(response?.ok(), `loading ${url}`);
    const content = await page.evaluate(() => {
      const text = (element: Element): string => (element.textContent ?? '').trim();
      const figures: Record<string, string> = {};
      for (const element of document.querySelectorAll('[data-figure]')) {
        const scope = element.closest('[data-group]')?.getAttribute('data-group');
        figures[`${scope ? `${scope}/` : ''}${element.getAttribute('data-figure')}`] = text(element);
      }
      const tables: Record<string, string[][]> = {};
      for (const table of document.querySelectorAll('table[data-table]')) {
        tables[table.getAttribute('data-table') as string] = [...table.querySelectorAll('tbody tr')].map((row) => [...row.querySelectorAll('td')].map(text));
      }
      const marks: Record<string, string[]> = {};
      const charts: string[] = [];
      const chartTitles: Record<string, string> = {};
      const legends: Record<string, string[]> = {};
      const rowHeaders: Record<string, string[]> = {};
      for (const chart of document.querySelectorAll('figure[data-chart]')) {
        const name = chart.getAttribute('data-chart') as string;
        charts.push(name);
        chartTitles[name] = text(chart.querySelector('.chart-title') ?? chart);
        legends[name] = [...chart.querySelectorAll('.role-legend-label text')].map(text);
        rowHeaders[name] = [...chart.querySelectorAll('.role-title-text')].map(text);
        marks[name] = [...chart.querySelectorAll('svg [aria-roledescription="point"], svg [aria-roledescription="bar"]')]
          .filter((mark) => {
            // Drawn: a path with geometry, inside the SVG's box.
            const box = (mark as SVGGraphicsElement).getBBox();
            return box.width > 0 || box.height > 0;
          })
          .map((mark) => mark.getAttribute('aria-label') ?? '');
      }
      // Layout: nothing visible wider than the page (tables scroll inside their own box).
      const width = document.documentElement.clientWidth;
      const tooWide = [...document.body.querySelectorAll('*')]
        .filter((element) => {
          const box = element.getBoundingClientRect();
          return box.width > 0 && box.right > width + 1 && !element.closest('.sorted, .scroll, figure svg');
        })
        .map((element) => `${element.closest('table[data-table]')?.getAttribute('data-table') ?? ''} ${element.tagName.toLowerCase()}${element.className ? `.${String(element.className)}` : ''}`.trim());
      // Labels: no two texts of one chart overlap (axis-aligned boxes of unrotated labels), and no
      // mark is drawn outside its chart's box (clipped).
      const overlapping: string[] = [];
      const clipped: string[] = [];
      const truncated: string[] = [];
      const blankSymbols: string[] = [];
      for (const chart of document.querySelectorAll('figure[data-chart] svg')) {
        const name = chart.closest('figure')?.getAttribute('data-chart') ?? '';
        const frame = chart.getBoundingClientRect();
        if (frame.width === 0) continue; // in a closed <details>
        // A label turned by a multiple of 90° has an exact box too; one turned by 45° does not.
        const square = (label: Element): boolean => {
          const angle = /rotate\((-?[\d.]+)/.exec(label.getAttribute('transform') ?? '')?.[1];
          return angle === undefined || Number(angle) % 90 === 0;
        };
        const labels = [...chart.querySelectorAll('text')]
          .filter((label) => square(label) && (label.textContent ?? '').trim() !== '')
          .map((label) => ({ text: (label.textContent ?? '').trim(), box: label.getBoundingClientRect() }))
          .filter((label) => label.box.width > 0);
        for (let a = 0; a < labels.length; a += 1) {
          for (let b = a + 1; b < labels.length; b += 1) {
            const [p, q] = [labels[a].box, labels[b].box];
            const across = Math.min(p.right, q.right) - Math.max(p.left, q.left);
            const down = Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top);
            if (across > 1 && down > 1) overlapping.push(`${name}: "${labels[a].text}" × "${labels[b].text}"`);
          }
        }
        for (const label of chart.querySelectorAll('text')) if ((label.textContent ?? '').trim().endsWith('…')) truncated.push(`${name}: "${(label.textContent ?? '').trim()}"`);
        for (const entry of chart.querySelectorAll('.role-legend-entry g.mark-group > g > g')) {
          const symbol = entry.querySelector('.role-legend-symbol path');
          if (symbol === null) continue;
          const style = getComputedStyle(symbol);
          const box = (symbol as SVGGraphicsElement).getBBox();
          const stroked = style.stroke !== 'none' && parseFloat(style.strokeWidth) > 0;
          const filled = style.fill !== 'none' && box.width > 0 && box.height > 0;
          if (!stroked && !filled) blankSymbols.push(`${name}: ${(entry.querySelector('.role-legend-label text')?.textContent ?? '').trim()}`);
        }
        for (const mark of chart.querySelectorAll('[aria-roledescription="point"], [aria-roledescription="bar"]')) {
          const box = mark.getBoundingClientRect();
          if (box.width + box.height === 0) continue;
          if (box.left < frame.left - 1 || box.right > frame.right + 1 || box.top < frame.top - 1 || box.bottom > frame.bottom + 1) clipped.push(`${name}: ${mark.getAttribute('aria-label') ?? ''}`);
        }
      }
      return { figures, tables, marks, charts, chartTitles, tooWide, overlapping, clipped, truncated, blankSymbols, legends, rowHeaders };
    });
    return { errors, requests: requests.filter((request) => request !== url), ...content };
  });
}

/** Asserts one group's tables on the page equal its JSON report. */
function assertTables(page: PageCapture, prefix: string, report: GroupJson): void {
  const sparsity = page.tables[`${prefix}sparsity`];
  assert.equal(sparsity.length, report.sparsity.length);
  report.sparsity.forEach((row, k) => {
    const [tau, mean, median, min, max, fraction] = sparsity[k];
    assert.equal(Math.fround(Number(tau)), Math.fround(row.tau));
    assertShown(mean, row.mean, `${prefix}mean at τ=${row.tau}`);
    assertShown(median, row.median, `${prefix}median at τ=${row.tau}`);
    assertShown(min, row.min, 'min');
    assertShown(max, row.max, 'max');
    assertShown(fraction, row.fraction, 'fraction');
  });
  const classes = page.tables[`${prefix}classes`];
  report.classes.forEach((row, k) => {
    const [tau, wx, wh, wy, share] = classes[k];
    assert.equal(Math.fround(Number(tau)), Math.fround(row.tau));
    assertShown(wx, row.mean_wx, 'mean_wx');
    assertShown(wh, row.mean_wh, 'mean_wh');
    assertShown(wy, row.mean_wy, 'mean_wy');
    if (row.wh_share === null) assert.equal(share, '-');
    else assertShown(share, row.wh_share, 'wh_share');
  });
  const never = page.tables[`${prefix}never-active`];
  (['wx', 'wh', 'wy', 'total'] as const).forEach((cls, k) => {
    assertShown(never[k][1], report.never_active[cls].never, `never ${cls}`);
    assertShown(never[k][2], report.never_active[cls].of, `of ${cls}`);
  });
  const depth = page.tables[`${prefix}depth`];
  assert.equal(depth.length, report.depth.length);
  report.depth.forEach((row, k) => {
    assert.equal(Number(depth[k][0]), row.d);
    assertShown(depth[k][1], row.mean_mass, `mass at d=${row.d}`);
    if (row.fraction !== null) assertShown(depth[k][2], row.fraction, `fraction at d=${row.d}`);
  });
}

/** Asserts every chart drew one mark per figure of the JSON report, with its values. */
function assertCharts(page: PageCapture, groups: readonly { name: string; report: GroupJson }[], totalPositions: number): void {
  /** The marks of `chart` named `name` (the depth chart also marks d = 0, as depth-d0). */
  const parse = (chart: string, name = chart) =>
    page.marks[chart]
      .map((label) => {
        const [markName, series, x, y] = label.split('|');
        assert.ok(markName === chart || (chart === 'depth' && markName === 'depth-d0'), `a mark of ${chart} labelled ${label}`);
        return { name: markName, series, x, y: Number(y) };
      })
      .filter((mark) => mark.name === name);
  const sorted = (rows: { series: string; x: string; y: number }[]) => rows.map((row) => `${row.series} ${row.x} ${row.y}`).sort();
  const expectMeanMedian = groups.flatMap(({ name, report }) =>
    report.sparsity.flatMap((row) => [
      { series: `${name}:mean`, x: String(row.tau), y: row.mean },
      { series: `${name}:median`, x: String(row.tau), y: row.median },
    ]),
  );
  assert.deepEqual(sorted(parse('mean-median')), sorted(expectMeanMedian));
  const expectClasses = groups.flatMap(({ name, report }) =>
    report.classes
      .filter((row) => row.mean_wx + row.mean_wh + row.mean_wy > 0)
      .flatMap((row) => (['wx', 'wh', 'wy'] as const).map((cls) => ({ series: `${name}:${cls}`, x: String(row.tau), y: row[`mean_${cls}`] }))),
  );
  assert.deepEqual(sorted(parse('class-composition')), sorted(expectClasses));
  const expectNever = groups.flatMap(({ name, report }) =>
    (['wx', 'wh', 'wy'] as const).flatMap((cls) => [
      { series: `${name}:${cls}:never`, x: cls, y: report.never_active[cls].never },
      { series: `${name}:${cls}:active`, x: cls, y: report.never_active[cls].of - report.never_active[cls].never },
    ]),
  );
  assert.deepEqual(sorted(parse('never-active')), sorted(expectNever));
  const expectDepth = groups.flatMap(({ name, report }) => report.depth.map((row) => ({ series: name, x: String(row.d), y: row.mean_mass })));
  assert.deepEqual(sorted(parse('depth')), sorted(expectDepth));
  assert.deepEqual(sorted(parse('depth', 'depth-d0')), sorted(expectDepth.filter((row) => row.x === '0')), 'd = 0 marked');
  // The histogram's bars hold every position once, per group.
  const bars = parse('histogram');
  assert.ok(bars.length > 0);
  assert.equal(bars.reduce((sum, bar) => sum + bar.y, 0), totalPositions);
  for (const { name, report } of groups) {
    assert.equal(bars.filter((bar) => bar.series === name).reduce((sum, bar) => sum + bar.y, 0), report.positions, `histogram of ${name}`);
  }
}

/** A JSON report's frequency section (report --sections frequency). */
interface FrequencyJson {
  readonly frequency: {
    readonly top: Record<'wx' | 'wh' | 'wy', { class: string; src: number; dst: number; positions: number }[]>;
    readonly backbone: { readonly neurons: { neuron: number; in_degree: number; out_degree: number }[] };
  };
}

/** The frequency charts drew a bar per listed pattern (its positions) and a point per backbone neuron (its degree). */
function assertFrequencyCharts(page: PageCapture, groups: readonly { name: string; frequency: FrequencyJson['frequency'] }[]): void {
  const marks = (chart: string) => page.marks[chart].map((label) => label.split('|')).map(([, series, x, y]) => `${series} ${x} ${y}`).sort();
  const bars = groups.flatMap(({ name, frequency }) => (['wx', 'wh', 'wy'] as const).flatMap((cls) => frequency.top[cls].map((p) => ({ series: `${name}:${cls}`, p }))));
  assert.ok(bars.length > 0);
  const name = (cls: string, p: { src: number; dst: number }): RegExp =>
    cls === 'wh' ? new RegExp(`^Wh h${p.src} → h${p.dst}$`) : cls === 'wx' ? new RegExp(`^Wx \\(.+, h${p.dst}\\)$`) : new RegExp(`^Wy \\(h${p.src}, .+\\)$`);
  const drawn = page.marks['frequency-top'].map((label) => label.split('|'));
  assert.equal(drawn.length, bars.length);
  for (const { series, p } of bars) {
    const cls = series.split(':').pop() as string;
    assert.ok(drawn.some(([, s, x, y]) => s === series && name(cls, p).test(x) && Number(y) === p.positions), `a bar for ${series} ${p.src} ${p.dst} ${p.positions}`);
  }
  const neurons = groups.flatMap(({ name: group, frequency }) => frequency.backbone.neurons.map((n) => `${group}:neuron h${n.neuron} in ${n.in_degree} out ${n.out_degree} ${n.in_degree + n.out_degree}`));
  assert.ok(neurons.length > 0);
  assert.deepEqual(marks('frequency-backbone'), neurons.sort());
}

describe('report --format html in Chromium', () => {
  test('the page of one run: loads offline without errors, shows the JSON report\'s figures, every chart has its marks', async () => {
    const handle = openDatabase(db, { readonly: true });
    const run = listRuns(handle).find((row) => row.hidden === 128 && row.dmax === 50);
    handle.close();
    assert.ok(run);
    const path = join(folder.path, 'one.html');
    const html = await cliHere(['report', '--db', db, '--run', run.run_id, '--format', 'html', '--explain', '120', '--out', path]);
    assert.equal(html.code, 0, html.stderr);
    const source = readFileSync(path, 'utf8');
    assert.doesNotMatch(source, /<link|<img|<iframe|@import|url\(|\bsrc=|\bhref=/i, 'the page references nothing outside itself');
    assert.equal(source.match(/<script\b[^>]*>/g)?.join(), '<script>', 'one inline script (the text in colour), nothing loaded');
    const json = await cliHere(['report', '--db', db, '--run', run.run_id, '--format', 'json']);
    assert.equal(json.code, 0, json.stderr);
    const report = JSON.parse(json.stdout) as GroupJson;

    const page = await capturePage(path);
    assert.deepEqual(page.errors, []);
    assert.deepEqual(page.requests, [], 'no request but the page itself');
    assert.deepEqual(page.charts, ['mean-median', 'class-composition', 'never-active', 'depth', 'histogram', 'surprise', 'frequency-top', 'frequency-backbone', 'explain-depth']);
    // The seed's chart titles, above their charts.
    assert.equal(page.chartTitles['mean-median'], 'Mean vs Median Active Patterns');
    assert.equal(page.chartTitles['class-composition'], 'Pattern Class Composition');
    assert.equal(page.chartTitles['never-active'], 'Pattern Utilization by Class');
    assert.equal(page.chartTitles['depth'], 'Attribution Mass vs Backward Offset');
    assert.match(page.chartTitles['surprise'] ?? '', /^Active Patterns vs Surprisal at τ = /);
    for (const chart of page.charts) assert.ok(page.marks[chart].length > 0, `${chart} has marks`);

    assertShown(page.figures['significant-total'], report.model.significant.total, 'significant patterns');
    for (const cls of ['wx', 'wh', 'wy'] as const) assertShown(page.figures[`significant-${cls}`], report.model.significant[cls], `significant ${cls}`);
    const pageTau = report.sparsity.find((row) => row.tau === 0.01);
    assert.ok(pageTau);
    assertShown(page.figures['median-at-page-tau'], pageTau.median, 'median at τ = 0.01');
    assertShown(page.figures['wh-share-at-page-tau'], report.classes.find((row) => row.tau === 0.01)?.wh_share ?? NaN, 'Wh share');
    assertShown(page.figures['wh-active-somewhere'], report.wh_active_somewhere, 'Wh active somewhere');
    assertShown(page.figures['positions'], report.positions, 'positions');
    assertShown(page.figures['bpc'], report.bpc, 'bpc');
    for (const cls of ['wx', 'wh', 'wy'] as const) assertShown(page.figures[`never-${cls}`], report.never_active[cls].never / report.never_active[cls].of, `never ${cls}`);
    assertShown(page.figures['depth-peak-d'], report.depth_peak?.d ?? NaN, 'depth peak');
    assertTables(page, '', report);
    assertCharts(page, [{ name: 'selection', report }], report.positions);
    const frequency = JSON.parse((await cliHere(['report', '--db', db, '--run', run.run_id, '--format', 'json', '--sections', 'frequency'])).stdout) as FrequencyJson;
    assertFrequencyCharts(page, [{ name: 'selection', frequency: frequency.frequency }]);
    assert.match(page.chartTitles['frequency-top'] ?? '', /^Most Often Active Patterns at τ = 0\.01$/);
    assert.match(page.chartTitles['frequency-backbone'] ?? '', /^Recurrent Backbone at τ = 0\.01$/);
    assert.deepEqual(page.overlapping, [], 'no labels drawn over each other');
    assert.deepEqual(page.clipped, [], 'no mark outside its chart');
    assert.deepEqual(page.truncated, [], 'no label cut short');
    assert.deepEqual(page.blankSymbols, [], 'every legend entry shows its symbol');

    // The explain section: its counts table agrees with the stored counts.
    const counts = page.tables['explain-counts'];
    assert.equal(counts.length, TAUS.length);
    assert.ok(counts.every((row) => row[6] === 'yes'), 'recomputed counts agree with the stored ones');
    assert.equal(page.tables['explain-patterns'].length, Math.min(40, Number(counts.find((row) => row[0] === '0.01')?.[4])));
    assert.equal(page.marks['explain-depth'].filter((label) => label.startsWith('depth|')).length, 51);
  });

  test('--by dmax: the groups side by side, each with its JSON report\'s figures', async () => {
    const path = join(folder.path, 'by-dmax.html');
    const html = await cliHere(['report', '--db', db, '--job', 'shipped', '--by', 'dmax', '--format', 'html', '--out', path]);
    assert.equal(html.code, 0, html.stderr);
    const json = await cliHere(['report', '--db', db, '--job', 'shipped', '--by', 'dmax', '--format', 'json']);
    assert.equal(json.code, 0, json.stderr);
    // --by dmax keys are numbers in JSON; the page labels them "Dmax 50".
    const groups = (JSON.parse(json.stdout) as { groups: (GroupJson & { group: number })[] }).groups.map((group) => ({ ...group, group: `Dmax ${group.group}` }));
    assert.equal(groups.length, 2);
    const page = await capturePage(path);
    assert.deepEqual(page.errors, []);
    assert.deepEqual(page.requests, []);
    assert.deepEqual(page.charts, ['mean-median', 'class-composition', 'never-active', 'depth', 'histogram', 'surprise', 'frequency-top', 'frequency-backbone']);
    groups.forEach((group, k) => assertTables(page, `g${k}-`, group));
    // The frequency charts: each group's bars and neurons, as its JSON report's frequency section has them.
    const frequency = JSON.parse((await cliHere(['report', '--db', db, '--job', 'shipped', '--by', 'dmax', '--format', 'json', '--sections', 'frequency'])).stdout) as { groups: ({ group: number } & FrequencyJson)[] };
    assertFrequencyCharts(page, frequency.groups.map((group) => ({ name: `Dmax ${group.group}`, frequency: group.frequency })));
    assertCharts(page, groups.map((group) => ({ name: group.group, report: group })), groups.reduce((sum, group) => sum + group.positions, 0));
    const summary = page.tables['groups'];
    assert.deepEqual(summary.map((row) => row[0]), groups.map((group) => group.group));
    groups.forEach((group, k) => assertShown(summary[k][4], group.sparsity.find((row) => row.tau === 0.01)?.median ?? NaN, 'group median'));
    assert.deepEqual(page.tooWide, [], 'nothing wider than the page');
    assert.deepEqual(page.overlapping, [], 'no labels drawn over each other');
    assert.deepEqual(page.clipped, [], 'no mark outside its chart');
    assert.deepEqual(page.truncated, [], 'no label cut short');
    assert.deepEqual(page.blankSymbols, [], 'every legend entry shows its symbol');
    // A sweep page: provenance first, then a table of its runs, sortable by radio buttons (no script).
    const source = readFileSync(path, 'utf8');
    assert.match(source, /<dl class="provenance" data-provenance>[\s\S]*<dt>Job<\/dt><dd>\d+ shipped \(job hash <code>[0-9a-f]{12}<\/code>/);
    assert.match(source, /<dt>Page made by<\/dt><dd><code>sparsetrace report --db .* --job shipped --by dmax --format html --out .*<\/code>/);
    const runsByBpc = page.tables['runs-by-bpc'];
    assert.equal(runsByBpc.length, 2, 'one row per run');
    assert.deepEqual(new Set(page.tables['runs-by-order'].map((row) => row[2])), new Set(['5', '50']), 'Dmax beside the figures');
    const jsonRuns = groups.flatMap((group) => group.runs.map((id) => ({ id, median: group.sparsity.find((row) => row.tau === 0.01)?.median })));
    for (const row of page.tables['runs-by-order']) {
      const run = jsonRuns.find((candidate) => candidate.id.startsWith(row[0]));
      assert.ok(run, `run ${row[0]} is one of the page's runs`);
      assertShown(row[7], run.median ?? NaN, 'a one-run group: the run\'s median is the group\'s');
    }
    assert.deepEqual(page.tables['runs-by-bpc'].map((row) => Number(row[5])), [...page.tables['runs-by-bpc'].map((row) => Number(row[5]))].sort((a, b) => b - a), 'sorted by bpc, largest first');
    // Tooltips: every data mark carries its exact values as an SVG <title>.
    const titled = source.match(/<title>[^<]*<\/title>/g) ?? [];
    assert.ok(titled.length >= groups.length * 2 * TAUS.length, 'mean and median points have tooltips');
    assert.ok(titled.some((title) => title === `<title>Dmax 50:median: 0.01 → ${groups.find((group) => group.group === 'Dmax 50')?.sparsity.find((row) => row.tau === 0.01)?.median}</title>`));
  });

  test('--by window,dmax over runs of three models: long group labels whole and distinct in legends and above small multiples, none over another', async () => {
    const path = join(folder.path, 'by-window-dmax.html');
    const html = await cliHere(['report', '--db', db, '--all', '--by', 'window,dmax', '--format', 'html', '--out', path]);
    assert.equal(html.code, 0, html.stderr);
    const page = await capturePage(path);
    assert.deepEqual(page.errors, []);
    const groups = page.tables['groups'].map((row) => row[0]);
    assert.equal(groups.length, 4, 'shipped at Dmax 5 and 50, and two random models');
    assert.ok(groups.every((group) => group.length > 30), `labels long enough to be cut: ${groups.join(', ')}`);
    assert.deepEqual(page.tooWide, [], 'nothing wider than the page');
    assert.deepEqual(page.overlapping, [], 'no labels drawn over each other');
    assert.deepEqual(page.clipped, [], 'no mark outside its chart');
    assert.deepEqual(page.truncated, [], 'no label cut short');
    assert.deepEqual(page.blankSymbols, [], 'every legend entry shows its symbol: mean and median by their line');
    assert.deepEqual(page.legends['mean-median'], [...groups, 'mean', 'median'], 'the legend names every group in full');
    assert.deepEqual(page.rowHeaders['class-composition'], groups, 'each small multiple is headed by its group in full');
  });

  test('--explain needs one run; --hist-tau picks the nearest τ of the runs', async () => {
    const refused = await cliHere(['report', '--db', db, '--job', 'shipped', '--format', 'html', '--explain', '3']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--explain: the selection holds 2 runs/);
    const nearest = await cliHere(['report', '--db', db, '--job', 'shipped', '--by', 'dmax', '--format', 'html', '--hist-tau', '0.02']);
    assert.equal(nearest.code, 0, nearest.stderr);
    assert.match(nearest.stderr, /--hist-tau 0\.02 is not a τ of the runs; using 0\.01/);
    assert.match(nearest.stdout, /Active Patterns per Position at τ = 0\.01/);
  });
});
