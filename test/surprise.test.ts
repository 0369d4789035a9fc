import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseModel } from '../src/model/format.js';
import { openDatabase } from '../src/store/index.js';
import { withBrowser } from './browser.js';
import { cliHere, PROJECT_ROOT, publishedJobArgs, REFERENCE_POSITIONS, SHARED_DATA, SHARED_MODEL, temporaryFolder } from './cli.js';
import { plainQ1 } from './plain/plainQ1.js';

/**
 * Sparsity against surprise and the text in colour (issue #19, items 2 and 3),
 * checked against an independent plain computation: n from the reference
 * per-position counts (shared/reference), the surprisal from the plain
 * implementation of the spec (test/plain), ranks by sorting.
 */

const folder = temporaryFolder('surprise');
const db = join(folder.path, 'q1.sqlite');
const sweepDb = join(folder.path, 'sweep.sqlite');
const longDb = join(folder.path, 'long.sqlite');
/** A text every installation has (npm ci), longer than a page shows. */
const LONG_TEXT = join(PROJECT_ROOT, 'node_modules', 'typescript', 'lib', 'lib.es5.d.ts');
let runId = '';

before(async () => {
  const run = await cliHere(publishedJobArgs(db));
  assert.equal(run.code, 0, run.stderr);
  const handle = openDatabase(db, { readonly: true });
  runId = handle.prepare('SELECT run_id FROM runs').pluck().get() as string;
  handle.close();
  // Two runs of the shipped window (2,046 positions: more than the page draws one by one), and one kept as summaries.
  const job = join(folder.path, 'two.json');
  writeFileSync(job, JSON.stringify({ name: 'two', models: [SHARED_MODEL], data: [{ path: SHARED_DATA, length: 1024 }], dmax: [3, 6], tau: [0.01, 0.1] }));
  const sweep = await cliHere(['run', job, '--db', sweepDb, '--no-report']);
  assert.equal(sweep.code, 0, sweep.stderr);
  const long = await cliHere(['run', '--db', longDb, '--model', SHARED_MODEL, '--data', LONG_TEXT, '--length', '5000', '--dmax', '2', '--tau', '0.01,0.1', '--no-report']);
  assert.equal(long.code, 0, long.stderr);
  const kept = await cliHere(['run', '--db', sweepDb, '--model', SHARED_MODEL, '--data', SHARED_DATA, '--length', '64', '--dmax', '4', '--tau', '0.01', '--keep', 'summaries', '--no-report']);
  assert.equal(kept.code, 0, kept.stderr);
});
after(() => folder.remove());

interface BinJson {
  from: number;
  to: number | null;
  positions: number;
  mean: number | null;
  median: number | null;
}
interface SurpriseJson {
  positions: number;
  by_tau: { tau: number; positions: number; spearman: number | null; bins: BinJson[] }[];
}

const BIN_EDGES = [0, 0.01, 0.1, 1, 2, 4, 8];

/** Average ranks (1-based) of `values`, doubled so that they are integers: ties share the mean of their ranks. */
function doubledAverageRanks(values: readonly number[]): number[] {
  const order = values.map((value, i) => ({ value, i })).sort((a, b) => a.value - b.value);
  const ranks = new Array<number>(values.length);
  for (let k = 0; k < order.length; ) {
    let next = k + 1;
    while (next < order.length && order[next].value === order[k].value) next++;
    // Ranks k + 1 … next, doubled mean: k + 1 + next.
    for (let m = k; m < next; m++) ranks[order[m].i] = k + 1 + next;
    k = next;
  }
  return ranks;
}

/** Spearman's ρ as Pearson's correlation of the doubled ranks: exact integer sums, then Number(A) / √Number(B·C). */
function plainSpearman(x: readonly number[], y: readonly number[]): number | null {
  const [rx, ry] = [doubledAverageRanks(x), doubledAverageRanks(y)];
  const N = BigInt(x.length);
  let [sx, sy, sxx, syy, sxy] = [0n, 0n, 0n, 0n, 0n];
  for (let i = 0; i < x.length; i++) {
    const [a, b] = [BigInt(rx[i]), BigInt(ry[i])];
    sx += a;
    sy += b;
    sxx += a * a;
    syy += b * b;
    sxy += a * b;
  }
  const [A, B, C] = [N * sxy - sx * sy, N * sxx - sx * sx, N * syy - sy * sy];
  return B === 0n || C === 0n ? null : Number(A) / Math.sqrt(Number(B * C));
}

/** The reference's n per τ and position, and the plain surprisal per position. */
function referenceFigures(): { taus: number[]; n: Map<number, number[]>; surprisal: number[] } {
  const lines = readFileSync(REFERENCE_POSITIONS, 'utf8').trim().split('\n');
  assert.equal(lines[0], 't\ty\ttau\tn_x\tn_h\tn_y');
  const n = new Map<number, number[]>();
  for (const line of lines.slice(1)) {
    const [t, , tau, nx, nh, ny] = line.split('\t').map(Number);
    if (!n.has(tau)) n.set(tau, []);
    (n.get(tau) as number[])[t] = nx + nh + ny;
  }
  const model = parseModel(readFileSync(SHARED_MODEL), 'sat_model.bin');
  const bytes = new Uint8Array(readFileSync(SHARED_DATA)).subarray(0, 1024);
  // Dmax 0: the forward pass and the output distribution only (the surprisal needs no backward trace).
  const surprisal = plainQ1(model, bytes, [0.01], 0).surprisal;
  return { taus: [...n.keys()].sort((a, b) => a - b), n, surprisal };
}

function plainBins(n: readonly number[], surprisal: readonly number[]): BinJson[] {
  return BIN_EDGES.map((from, k) => {
    const to = k + 1 < BIN_EDGES.length ? BIN_EDGES[k + 1] : null;
    const inBin = n.filter((_, t) => (k === 0 || surprisal[t] >= from) && (to === null || surprisal[t] < to)).sort((a, b) => a - b);
    return {
      from,
      to,
      positions: inBin.length,
      mean: inBin.length === 0 ? null : inBin.reduce((sum, value) => sum + value, 0) / inBin.length,
      median: inBin.length === 0 ? null : inBin[Math.floor((inBin.length - 1) / 2)],
    };
  });
}

describe('sparsity against surprise', () => {
  test('per τ, n by surprisal bin and Spearman ρ equal a plain computation from the reference counts, exactly', async () => {
    const reference = referenceFigures();
    const json = await cliHere(['report', '--db', db, '--sections', 'surprise', '--format', 'json']);
    assert.equal(json.code, 0, json.stderr);
    const report = JSON.parse(json.stdout) as { surprise: SurpriseJson };
    assert.deepEqual(Object.keys(report), ['surprise'], 'only the section asked for');
    assert.equal(report.surprise.positions, 1023);
    // The stored surprisal is the plain one.
    const handle = openDatabase(db, { readonly: true });
    const stored = handle.prepare('SELECT surprisal_bits FROM positions ORDER BY t').pluck().all() as number[];
    handle.close();
    assert.deepEqual(stored, reference.surprisal);
    const expected = reference.taus.map((tau) => {
      const n = reference.n.get(tau) as number[];
      assert.equal(n.length, 1023);
      return { tau, positions: 1023, spearman: plainSpearman(n, reference.surprisal), bins: plainBins(n, reference.surprisal) };
    });
    assert.deepEqual(report.surprise.by_tau, expected);

    // The figures, from the reference counts: ρ about 0.89 at τ = 0.01, 24 positions above 1 bit with about 12,000 patterns, the rest about 900.
    const n = reference.n.get(0.01) as number[];
    const mean = (values: number[]): number => values.reduce((sum, value) => sum + value, 0) / values.length;
    const above = n.filter((_, t) => reference.surprisal[t] >= 1);
    const rest = n.filter((_, t) => reference.surprisal[t] < 1);
    const atPage = report.surprise.by_tau.find((row) => row.tau === 0.01);
    assert.ok(atPage);
    assert.equal(atPage.spearman?.toFixed(2), '0.89');
    assert.equal(above.length, 24);
    assert.ok(Math.abs(mean(above) - 12000) < 500, `positions above 1 bit: mean n ${mean(above)}`);
    assert.ok(Math.abs(mean(rest) - 900) < 50, `the rest: mean n ${mean(rest)}`);
    const reportAbove = atPage.bins.filter((bin) => bin.from >= 1);
    assert.equal(reportAbove.reduce((sum, bin) => sum + bin.positions, 0), above.length);
    assert.equal(reportAbove.reduce((sum, bin) => sum + bin.positions * (bin.mean ?? 0), 0), above.reduce((sum, value) => sum + value, 0));
  });

  test('text, Markdown and CSV print the same figures; --tau keeps its rows; runs kept as summaries are said to have no rows', async () => {
    const json = (JSON.parse((await cliHere(['report', '--db', db, '--sections', 'surprise', '--format', 'json', '--tau', '0.01'])).stdout) as { surprise: SurpriseJson }).surprise;
    assert.deepEqual(json.by_tau.map((row) => row.tau), [0.01]);
    const csv = await cliHere(['report', '--db', db, '--sections', 'surprise', '--format', 'csv', '--tau', '0.01']);
    assert.equal(csv.code, 0, csv.stderr);
    const rows = csv.stdout.trim().split('\n').slice(1).map((line) => line.match(/("[^"]*"|[^,]*)(,|$)/g)?.map((cell) => cell.replace(/,$/, '').replace(/^"|"$/g, '')) ?? []);
    const value = (cls: string, measure: string): string | undefined => rows.find((row) => row[0] === 'surprise' && row[3] === cls && row[4] === measure)?.[5];
    assert.equal(Number(value('', 'spearman')), json.by_tau[0].spearman);
    for (const bin of json.by_tau[0].bins) {
      const label = `[${bin.from},${bin.to ?? 'inf'})`;
      assert.equal(Number(value(label, 'positions')), bin.positions);
      assert.equal(value(label, 'mean'), bin.mean === null ? '' : String(bin.mean));
      assert.equal(value(label, 'median'), bin.median === null ? '' : String(bin.median));
    }
    const text = await cliHere(['report', '--db', db, '--sections', 'surprise', '--tau', '0.01']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^Sparsity against surprise: n by surprisal bin \(bits\)/);
    assert.match(text.stdout, new RegExp(`^0\\.01 +1,023 +${(json.by_tau[0].spearman as number).toFixed(4)}$`, 'm'));
    const md = await cliHere(['report', '--db', db, '--sections', 'sparsity,surprise', '--format', 'md']);
    assert.deepEqual(md.stdout.match(/^### .*$/gm), ['### Sparsity distribution', '### Sparsity against surprise: n by surprisal bin (bits)', '### Rank correlation of n with surprisal (Spearman, ties at their average rank)']);
    // The default report has no surprise section (it reads every position).
    assert.doesNotMatch((await cliHere(['report', '--db', db])).stdout, /surprise/);
    assert.equal((JSON.parse((await cliHere(['report', '--db', db, '--format', 'json'])).stdout) as { surprise?: unknown }).surprise, undefined);
    // A run kept as summaries has no per-position rows: the section says so.
    const kept = await cliHere(['report', '--db', sweepDb, '--dmax', '4', '--all', '--sections', 'surprise']);
    assert.equal(kept.code, 0, kept.stderr);
    assert.match(kept.stdout, /no per-position rows are stored for this selection/);
    const keptJson = JSON.parse((await cliHere(['report', '--db', sweepDb, '--dmax', '4', '--all', '--sections', 'surprise', '--format', 'json'])).stdout) as { surprise: SurpriseJson };
    assert.deepEqual(keptJson.surprise, { positions: 0, by_tau: [] });
  });

  test('a grouped report ranks each group on its own', async () => {
    const grouped = JSON.parse((await cliHere(['report', '--db', sweepDb, '--job', 'two', '--by', 'dmax', '--sections', 'summary,surprise', '--format', 'json'])).stdout) as { groups: { group: number; runs: string[]; surprise: SurpriseJson }[] };
    assert.equal(grouped.groups.length, 2);
    for (const group of grouped.groups) {
      const alone = JSON.parse((await cliHere(['report', '--db', sweepDb, '--run', group.runs[0], '--sections', 'surprise', '--format', 'json'])).stdout) as { surprise: SurpriseJson };
      assert.deepEqual(group.surprise, alone.surprise);
      assert.equal(group.surprise.positions, 1023);
    }
  });
});

/** The stored rows of one position: counts at every τ and the surprisal. */
function storedPosition(path: string, run: string, t: number): { counts: Map<number, number[]>; surprisal: number; y: number } {
  const handle = openDatabase(path, { readonly: true });
  try {
    const counts = handle.prepare('SELECT tau, n_x, n_h, n_y FROM counts WHERE run_id = ? AND t = ?').raw().all(run, t) as number[][];
    const position = handle.prepare('SELECT surprisal_bits, y FROM positions WHERE run_id = ? AND t = ?').raw().get(run, t) as [number, number];
    return { counts: new Map(counts.map(([tau, ...n]) => [tau, n])), surprisal: position[0], y: position[1] };
  } finally {
    handle.close();
  }
}

interface ExplainJson {
  patterns: { class: string; src: number; dst: number; d: number; attribution: number }[];
  depth_mass: number[];
}

describe('the text in colour, in Chromium', () => {
  test('every byte coloured, tooltips with the stored figures, a click shows explain\'s patterns and the depth mass; no requests; the page stays small', async () => {
    const path = join(folder.path, 'one.html');
    const html = await cliHere(['report', '--db', db, '--format', 'html', '--out', path]);
    assert.equal(html.code, 0, html.stderr);
    const size = statSync(path).size;
    assert.ok(size < 2_000_000, `the page of a 1 KiB window is ${size} bytes`);
    const window = new Uint8Array(readFileSync(SHARED_DATA)).subarray(0, 1024);

    const seen = await withBrowser(async (browser) => {
      const page = await browser.newPage();
      const requests: string[] = [];
      const errors: string[] = [];
      await page.setRequestInterception(true);
      const url = pathToFileURL(path).href;
      page.on('request', (request) => {
        if (request.url() === url) return void request.continue();
        requests.push(request.url());
        void request.abort();
      });
      page.on('pageerror', (error) => errors.push(String(error)));
      page.on('console', (message) => {
        if (message.type() === 'error' || message.type() === 'warn') errors.push(message.text());
      });
      await page.goto(url, { waitUntil: 'networkidle0' });
      const bytes = await page.$$eval('.text-bytes span', (spans) =>
        spans.map((span) => ({ t: span.getAttribute('data-t'), text: span.textContent ?? '', background: getComputedStyle(span).backgroundColor, colour: span.getAttribute('style') })),
      );
      // Switch to τ = 0.1, read a tooltip.
      const tauIndex = await page.$eval('[data-text-view]', (view) => (JSON.parse(view.getAttribute('data-taus') ?? '[]') as string[]).indexOf('0.1'));
      await page.click(`#text-colour-${tauIndex}`);
      const tooltip = await page.$eval('.text-bytes span[data-t="955"]', (span) => ({ title: span.getAttribute('title') ?? '', background: getComputedStyle(span).backgroundColor }));
      await page.click('#text-colour-s');
      const bySurprisal = await page.$eval('.text-bytes span[data-t="955"]', (span) => getComputedStyle(span).backgroundColor);
      // Click an explained byte, then one that is not.
      const explained = await page.$$eval('.text-bytes span.explained', (spans) => spans.map((span) => Number(span.getAttribute('data-t'))));
      await page.click('.text-bytes span[data-t="955"]');
      const panel = await page.$eval('.text-explanation[data-explain-for="955"]', (element) => ({
        hidden: (element as HTMLElement).hidden,
        visible: (element as HTMLElement).offsetHeight > 0,
        patterns: [...element.querySelectorAll('tr[data-pattern]')].map((row) => row.getAttribute('data-pattern') ?? ''),
        active: element.querySelector('[data-active]')?.textContent ?? '',
      }));
      const depths = await page.$$eval('.text-bytes span[data-depth]', (spans) => spans.map((span) => [Number(span.getAttribute('data-t')), Number(span.getAttribute('data-depth')), span.style.boxShadow !== ''] as const));
      const other = [...Array(1023).keys()].find((t) => !explained.includes(t)) as number;
      await page.click(`.text-bytes span[data-t="${other}"]`);
      const none = await page.$eval('.text-explanation[data-explain-for="none"]', (element) => ({ hidden: (element as HTMLElement).hidden, text: element.textContent ?? '' }));
      const stillShown = await page.$eval('.text-explanation[data-explain-for="955"]', (element) => (element as HTMLElement).hidden);
      return { requests, errors, bytes, tooltip, bySurprisal, explained, panel, depths, other, none, stillShown };
    });
    assert.deepEqual(seen.errors, []);
    assert.deepEqual(seen.requests, [], 'the page asks for nothing');

    // Every byte of the window is there, each position coloured; the last byte has no position.
    assert.equal(seen.bytes.length, 1024);
    seen.bytes.forEach((byte, k) => {
      const expected = window[k] === 0x0a ? '↵\n' : window[k] >= 0x20 && window[k] < 0x7f ? String.fromCharCode(window[k]) : window[k] === 0x09 ? '→' : '·';
      assert.equal(byte.text, expected, `byte ${k}`);
      assert.equal(byte.t, k < 1023 ? String(k) : null);
    });
    const coloured = seen.bytes.filter((byte) => byte.t !== null && byte.background !== 'rgba(0, 0, 0, 0)');
    assert.equal(coloured.length, 1023, 'every position has a background colour');
    assert.ok(new Set(coloured.map((byte) => byte.background)).size > 20, 'and the colours differ');

    // The tooltip's figures are the store's rows for that t at the chosen τ.
    const stored = storedPosition(db, runId, 955);
    const [nx, nh, ny] = stored.counts.get(0.1) as number[];
    assert.equal(seen.tooltip.title, `t = 955 · byte '${String.fromCharCode(window[955])}' → target '${String.fromCharCode(stored.y)}' · τ = 0.1: n_x ${nx}, n_h ${nh}, n_y ${ny} (n ${nx + nh + ny}) · surprisal ${stored.surprisal.toPrecision(6)} bits`);
    assert.notEqual(seen.bySurprisal, seen.tooltip.background, 'the switch changes the colour');

    // The explanation: the patterns explain lists, first ones, exactly; the earlier bytes marked by depth.
    assert.ok(seen.explained.includes(955) && seen.explained.length === 64);
    assert.ok(!seen.panel.hidden && seen.panel.visible);
    const explain = await cliHere(['explain', '--db', db, '--run', runId, '--t', '955', '--tau', '0.01', '--format', 'json']);
    assert.equal(explain.code, 0, explain.stderr);
    const listed = JSON.parse(explain.stdout) as ExplainJson;
    assert.deepEqual(seen.panel.patterns, listed.patterns.slice(0, 10).map((p) => `${p.class} ${p.src} ${p.dst} ${p.d} ${p.attribution}`));
    assert.equal(Number(seen.panel.active.replace(/,/g, '')), listed.patterns.length);
    assert.deepEqual(
      seen.depths.map(([t, d, marked]) => [t, d, marked]),
      listed.depth_mass.slice(1).map((_, k) => [955 - (k + 1), k + 1, true]).sort((a, b) => (a[0] as number) - (b[0] as number)),
    );
    // A byte not explained on the page says how to list it.
    assert.equal(seen.none.hidden, false);
    assert.equal(seen.stillShown, true, 'the earlier explanation is hidden');
    assert.match(seen.none.text, new RegExp(`sparsetrace explain --run ${runId.slice(0, 12)} --t ${seen.other}\\b`));
  });

  test('the surprise chart draws every position once; above 2,000 positions it is a 2-D histogram', async () => {
    const one = readFileSync(join(folder.path, 'one.html'), 'utf8');
    const chart = (source: string): string => {
      const start = source.indexOf('<figure class="chart" data-chart="surprise">');
      assert.ok(start >= 0, 'a surprise chart');
      return source.slice(start, source.indexOf('</figure>', start));
    };
    // Points: one per distinct (surprisal, n); a label `surprise|series|s|n`, with ":k positions" when k > 1.
    const points = [...chart(one).matchAll(/aria-label="surprise\|([^|"]*)\|([^|"]*)\|([^|"]*)"/g)];
    const positions = points.reduce((sum, match) => sum + Number(/:(\d+) positions/.exec(match[1])?.[1] ?? 1), 0);
    assert.equal(positions, 1023);
    const path = join(folder.path, 'two.html');
    const page = await cliHere(['report', '--db', sweepDb, '--job', 'two', '--by', 'dmax', '--format', 'html', '--out', path]);
    assert.equal(page.code, 0, page.stderr);
    const two = readFileSync(path, 'utf8');
    assert.doesNotMatch(two, /data-text-view/, 'the text in colour is for a page of one run');
    const cells = [...chart(two).matchAll(/aria-label="surprise-cells\|([^|"]*)\|([^|"]*)\|([^|"]*)"/g)];
    assert.ok(cells.length > 0 && cells.length < 500);
    assert.equal(cells.reduce((sum, match) => sum + Number(match[3]), 0), 2046, 'the cells hold every position once');
  });

  test('a long window: the first 4,096 bytes, with a note; the page stays small', async () => {
    const path = join(folder.path, 'long.html');
    const page = await cliHere(['report', '--db', longDb, '--format', 'html', '--out', path]);
    assert.equal(page.code, 0, page.stderr);
    const source = readFileSync(path, 'utf8');
    assert.equal(source.match(/<span data-t="/g)?.length, 4096);
    assert.match(source, /The window has 5,000 bytes; the page shows the first 4,097/);
    assert.equal(source.match(/<div class="text-explanation" data-explain-for="\d+"/g)?.length, 64);
    assert.match(source, /aria-label="surprise-cells\|/, '4,999 positions: a 2-D histogram');
    assert.ok(statSync(path).size < 5_000_000, `the page is ${statSync(path).size} bytes`);
  });
});
