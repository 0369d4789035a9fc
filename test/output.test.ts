/** Output formats in-process: τ labels, τ filters, streamed SQL rows. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { logGrid } from '../src/job/index.js';
import { formatTau } from '../src/report/format.js';
import { thousands } from '../src/report/numbers.js';
import { chunksText, TextChunks } from '../src/report/textBytes.js';
import { batched } from '../src/cli/output.js';
import { matchTaus } from '../src/report/select.js';
import { columnWidths } from '../src/report/table.js';
import { writeRows, type SqlFormat } from '../src/cli/sql.js';
import type { PlannedRun } from '../src/job/index.js';
import { formatDuration, formatEta } from '../src/duration.js';
import { workUnits } from '../src/runner/work.js';
import { progressReporter } from '../src/runner/progress.js';

describe('thousands', () => {
  test('prints what Intl.NumberFormat(en-US) prints, with 0–3 decimals, on ties, carries, signs and extremes', () => {
    const formats = [0, 1, 2, 3].map((d) => new Intl.NumberFormat('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }));
    // Ties on the shortest decimal form that toFixed rounds the other way (1.005), carries (999.995), and the edges.
    const values = [0, -0, 1.005, 2.5, -2.5, 0.05, 999.95, 999.995, 9.9999, 1e-7, -1e-7, 5e-324, 1e15 + 0.5, 1e20, 1e21, 1.5e300, NaN, Infinity, -Infinity, 999, 1000, -1000, 2 ** 53, 1e21 - 2 ** 17, 123456789012345680000];
    let seed = 12345;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let k = 0; k < 20_000; k++) {
      const value = (random() - 0.3) * 10 ** Math.floor(random() * 14 - 4);
      // Whole numbers too (counts, the common case, which thousands prints without rounding).
      values.push(value, Math.round(value * 1000) / 1000 + 0.0005, Math.round(value * 100) / 100 + 0.005, Math.round(value), Math.round(value * 1e9));
    }
    for (const value of values) {
      for (let d = 0; d <= 3; d++) assert.equal(thousands(value, d), formats[d].format(value), `${value} with ${d} decimals`);
    }
  });
});

describe('text as bytes', () => {
  test('a number cell is thousands(value) padded to its width, on halves, carries, the edges of the digit path and past them', () => {
    const values = [0, -0, 0.05, 0.15, 0.25, 2.5, 1.05, 999.95, 999.949999, 9999.95, 123456.75, 1e-7, 2 ** 31 - 1, 2 ** 31, 2 ** 31 / 10 - 0.05, 2 ** 53, 1e21, -3.5, NaN, Infinity, -Infinity, 5e-324];
    let seed = 777;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let k = 0; k < 20_000; k++) {
      const value = random() * 10 ** Math.floor(random() * 10 - 2);
      // Within a hair of a half at one decimal, where the shortest decimal form and value × 10 may round apart.
      values.push(value, Math.round(value), Math.floor(value * 10) / 10 + 0.05, Math.floor(value * 10) / 10 + 0.05 + 1e-9, Math.floor(value * 10) / 10 + 0.05 - 1e-12);
    }
    for (const decimals of [0, 1] as const)
      for (const width of [0, 5, 14]) {
        const out = new TextChunks();
        const expected: string[] = [];
        for (const value of values) {
          out.thousandsCell(value, decimals, width);
          out.byte(10);
          expected.push(`${thousands(value, decimals).padStart(width)}\n`);
        }
        assert.equal(chunksText([out.take()]), expected.join(''), `${decimals} decimals, width ${width}`);
      }
  });

  test('cells pad by UTF-16 units as padStart and padEnd do and are written as UTF-8; a chunk is taken once it is full', () => {
    const out = new TextChunks(64);
    const cells = ['x', 'enwik_1024.txt@0+1024', 'données/é@1+2', '∞', '😀a', ''];
    let expected = '';
    const taken: (string | Uint8Array)[] = [];
    for (let k = 0; k < 40; k++) {
      const cell = cells[k % cells.length];
      out.cell(cell, 12, k % 2 === 0);
      out.spaces(k % 40);
      out.byte(10);
      expected += `${k % 2 === 0 ? cell.padStart(12) : cell.padEnd(12)}${' '.repeat(k % 40)}\n`;
      if (out.ready) taken.push(out.take());
      assert.ok(!out.ready);
    }
    taken.push(out.take());
    assert.ok(taken.length > 5 && out.empty);
    assert.equal(chunksText(taken), expected);
    // Between the text parts, the bytes go out as they are, in order.
    const pieces = [...batched(['a', 'b', Buffer.from('c'), 'd', Buffer.from('é'), 'f'], 1)];
    assert.deepEqual(pieces.map((piece) => (typeof piece === 'string' ? piece : ['bytes', Buffer.from(piece).toString()])), ['a', 'b', ['bytes', 'c'], 'd', ['bytes', 'é'], 'f']);
    assert.equal(chunksText([...batched(['a', 'b', Buffer.from('c'), 'd'])]), 'abcd');
  });
});

describe('τ for people', () => {
  test('a label has the fewest digits that give back its float32, and never two τ of a grid the same label', () => {
    const grid = logGrid(1e-6, 10, 40);
    const labels = grid.map(formatTau);
    assert.equal(new Set(labels).size, grid.length);
    grid.forEach((tau, k) => {
      assert.equal(Math.fround(Number(labels[k])), Math.fround(tau), `${labels[k]} is τ ${tau} as float32`);
      const digits = Number(labels[k]).toExponential().split('e')[0].replace('.', '').length;
      if (digits > 1) {
        const shorter = Number(Math.fround(tau).toPrecision(digits - 1));
        assert.notEqual(Math.fround(shorter), Math.fround(tau), `${labels[k]} could be shorter`);
      }
    });
    assert.equal(formatTau(0.01), '0.01');
    assert.equal(formatTau(1e-5), '0.00001');
  });

  test('--tau values name thresholds exactly or by rounding; unknown and ambiguous ones are refused', () => {
    const grid = logGrid(1e-3, 1, 4);
    assert.deepEqual(matchTaus(grid, [0.01, 0.0178]), [0.01, grid[grid.findIndex((tau) => tau > 0.0177 && tau < 0.0179)]]);
    assert.throws(() => matchTaus(grid, [0.5]), /no threshold of the selected runs is 0\.5/);
    assert.throws(() => matchTaus([0.0123, 0.0124], [0.01]), /names 2 thresholds/);
  });
});

describe('streamed SQL rows', () => {
  function* rows(count: number): Generator<unknown[]> {
    for (let k = 0; k < count; k++) yield [k, `row ${k}`, k % 3 === 0 ? null : k / 7];
  }
  const render = (format: SqlFormat, count: number): { text: string; writes: number; count: number } => {
    let text = '';
    let writes = 0;
    const counted = writeRows(['k', 'name', 'ratio'], rows(count), format, (chunk) => {
      text += chunk;
      writes++;
    });
    return { text, writes, count: counted };
  };

  test('every format gives every row, written in several chunks', () => {
    for (const format of ['text', 'csv', 'json', 'ndjson'] as const) {
      const { text, writes, count } = render(format, 5000);
      assert.equal(count, 5000);
      assert.ok(writes > 1, `${format}: written in chunks`);
      if (format === 'json') assert.equal((JSON.parse(text) as unknown[]).length, 5000);
      if (format === 'ndjson') assert.deepEqual(JSON.parse(text.trimEnd().split('\n')[4999]), { k: 4999, name: 'row 4999', ratio: 4999 / 7 });
      if (format === 'csv') assert.equal(text.trimEnd().split('\n').length, 5001);
      if (format === 'text') assert.equal(text.trimEnd().split('\n').length, 5002);
    }
    assert.equal(render('json', 0).text, '[]\n');
    assert.equal(render('ndjson', 0).text, '');
  });

  test('integers beyond 2^53 stay exact: digits in text and CSV, strings in JSON', () => {
    const big = 2n ** 53n + 1n;
    const write = (format: SqlFormat): string => {
      let text = '';
      writeRows(['n'], [[big], [5n]], format, (chunk) => (text += chunk));
      return text;
    };
    assert.match(write('text'), /^9007199254740993$/m);
    assert.match(write('csv'), /^9007199254740993$/m);
    assert.deepEqual(JSON.parse(write('json')), [{ n: '9007199254740993' }, { n: 5 }]);
  });

  test('a text table sizes its columns from a sample; later wider rows keep the layout', () => {
    const { text } = render('text', 20_000);
    const lines = text.split('\n');
    // The sample (1000 rows) sets the widths: rows 0..999 have names up to "row 999".
    assert.equal(lines[1].split('  ')[1].length, 'row 999'.length);
    assert.match(lines[2 + 19_999], /^19999  row 19999/);
  });

  test('column widths of a million rows are computed without spreading rows into arguments', () => {
    const many = Array.from({ length: 1_000_000 }, (_, k) => [String(k)]);
    assert.deepEqual(columnWidths(['n'], many), [6]);
  });
});

describe('progress', () => {
  test('the ETA is "unknown" until a shard of this session is in, then a human duration', () => {
    const lines: string[] = [];
    const stream = { isTTY: false } as NodeJS.WriteStream;
    const progress = progressReporter(stream, 2, { log: (line) => lines.push(line), intervalSeconds: 0 });
    const run = { runId: 'r1', positions: 100, dmax: 5, data: { path: 'd', offset: 0, length: 101 } } as unknown as PlannedRun;
    progress.jobPlanned(200, 0, { total: 2 * workUnits(0, 100, 5), done: 0 });
    progress.runStarted(run, 0, 0);
    progress.runFinished(run, 0);
    assert.match(lines.at(-1) as string, /ETA unknown$/);
    progress.runStarted(run, 1, 0);
    progress.shardCommitted(run, 50, 0);
    assert.match(lines.at(-1) as string, /ETA \d+s$/);
    assert.equal(formatDuration(Number.NaN), '—');
  });

  test('durations read as a person would write them; an ETA that cannot be known says so', () => {
    assert.deepEqual(
      [0, 42.4, 60, 326, 3599, 3600, 7830, 86_400 + 4 * 3600 + 59].map(formatDuration),
      ['0s', '42s', '1m 0s', '5m 26s', '59m 59s', '1h 0m', '2h 10m', '1d 4h'],
    );
    assert.deepEqual([Infinity, Number.NaN, null, undefined, 326].map(formatEta), ['unknown', 'unknown', 'unknown', 'unknown', '5m 26s']);
  });

  test('work units weigh each position by its depth: min(t, Dmax) + 1, additive over shards', () => {
    assert.equal(workUnits(0, 1, 10), 1);
    assert.equal(workUnits(0, 4, 10), 1 + 2 + 3 + 4);
    assert.equal(workUnits(20, 3, 10), 3 * 11);
    assert.equal(workUnits(0, 100, 40), workUnits(0, 37, 40) + workUnits(37, 63, 40));
    // A run at Dmax 40 is about four times the work of one at Dmax 10 over the same window.
    assert.ok(Math.abs(workUnits(0, 1023, 40) / workUnits(0, 1023, 10) - 3.6) < 0.2);
  });

  test('the ETA follows the work left, not the positions: deep positions left take longer', () => {
    const lines: string[] = [];
    const stream = { isTTY: false } as NodeJS.WriteStream;
    const shallow = { runId: 's', positions: 100, dmax: 0, data: { path: 'd', offset: 0, length: 101 } } as unknown as PlannedRun;
    const progress = progressReporter(stream, 2, { log: (line) => lines.push(line), intervalSeconds: 0 });
    const total = workUnits(0, 100, 0) + workUnits(0, 100, 99);
    progress.jobPlanned(200, 0, { total, done: 0 });
    progress.runStarted(shallow, 0, 0);
    const began = performance.now();
    while (performance.now() - began < 30); // a measurable elapsed time
    progress.shardCommitted(shallow, 100, 0);
    // Half the positions are done but 100 of 5,150 work units: the ETA is about 50 times the time taken, not once.
    const eta = /ETA (.*)$/.exec(lines.at(-1) as string)?.[1] ?? '';
    assert.match(eta, /^\d+s$/);
    assert.ok(Number(eta.slice(0, -1)) >= 1, `ETA ${eta} weighs the deep run's work`);
  });

  test('on a terminal: bars for the job and the run, with its window, Dmax and run i/N; the ETA is a duration, never raw seconds', () => {
    let written = '';
    const terminal = new Writable({
      write(chunk: Buffer, _encoding, done) {
        written += chunk.toString();
        done();
      },
    });
    const stream = Object.assign(terminal, { isTTY: true, columns: 120, cursorTo: () => true, moveCursor: () => true, clearLine: () => true, clearScreenDown: () => true }) as unknown as NodeJS.WriteStream;
    const exitListeners = process.listenerCount('exit');
    const progress = progressReporter(stream, 2);
    const run = { runId: 'r1', positions: 100, dmax: 5, data: { path: 'd', offset: 0, length: 101 } } as unknown as PlannedRun;
    progress.jobPlanned(200, 0, { total: 2 * workUnits(0, 100, 5), done: 0 });
    progress.runStarted(run, 0, 0);
    progress.shardCommitted(run, 50, 0);
    progress.log?.('a message above the bars');
    progress.stop();
    assert.match(written, /job 2 runs .*\| 50\/200 positions \| \d+ pos\/s \| ETA (\d+s|\d+m \d+s)/);
    assert.match(written, /run 1\/2 Dmax 5 d @0\+101 .*\| 50\/100 positions \| \d+ pos\/s \| ETA (\d+s|\d+m \d+s)/);
    assert.doesNotMatch(written, /ETA (INF|\d+ |\d+$)/m);
    assert.match(written, /a message above the bars/, 'a line logged just before stop is written, not dropped');
    assert.ok(written.includes('\x1b[?25l'), 'the cursor was hidden while drawing');
    assert.ok(written.lastIndexOf('\x1b[?25h') > written.lastIndexOf('\x1b[?25l'), 'and shown again');
    assert.ok(written.lastIndexOf('\x1b[?7h') > written.lastIndexOf('\x1b[?7l'), 'line wrap on again');
    assert.equal(process.listenerCount('exit'), exitListeners, 'no exit hook left behind after stop');
  });
});
