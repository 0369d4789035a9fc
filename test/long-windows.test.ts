import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { forwardKernel, forwardStates, traceRange, traceTables, type RangeResult } from '../src/engine/index.js';
import { parseJob } from '../src/job/spec.js';
import { expandRuns, openLockedStore, recordJobRuns } from '../src/jobrun/steps.js';
import { executeRuns, type ExecuteResult, type RunEvents } from '../src/runner/execute.js';
import { pieceBytes, segmentsOf } from '../src/runner/segments.js';
import { ShardPool, TASKS_PER_THREAD } from '../src/runner/pool.js';
import { closeDatabase } from '../src/store/index.js';
import { cliHere, cliProcess, PROJECT_ROOT, publishedJobArgs, REFERENCE_POSITIONS, resultRows, SHARED_DATA, SHARED_MODEL, temporaryFolder, type CliResult } from './cli.js';
import { mulberry32, randomModel } from './random-model.js';

/**
 * Long windows in bounded memory (issue #19, item 5): a window longer than a
 * segment is computed segment by segment (src/runner/segments.ts), each
 * segment's buffers holding its own forward states and the Dmax (and burn-in)
 * states before it, the forward pass carried across. The invariant: the
 * results are those of one pass over the whole window, bit for bit (every
 * stored row, every count at every τ), whatever the segment size, the
 * burn-in, Dmax (also larger than a segment), shards straddling segments, and
 * a resume after a kill mid-window; and the shared memory a window takes is
 * bounded by the segment size, not its length. SPARSETRACE_SEGMENT_SIZE makes
 * segments small so that short windows cross many boundaries.
 */

const TAUS = [1e-5, 1e-4, 1e-3, 0.01, 0.1, 1, 10];
const LONG_DATA = join(PROJECT_ROOT, 'node_modules', 'typescript', 'lib', 'typescript.js');

async function ok(args: readonly string[]): Promise<CliResult> {
  const result = await cliHere(args);
  assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
  return result;
}

/** A command in this process with SPARSETRACE_SEGMENT_SIZE set (undefined: unset, the default 32,768). */
async function okWithSegments(segment: number | undefined, args: readonly string[]): Promise<CliResult> {
  const saved = process.env.SPARSETRACE_SEGMENT_SIZE;
  if (segment === undefined) delete process.env.SPARSETRACE_SEGMENT_SIZE;
  else process.env.SPARSETRACE_SEGMENT_SIZE = String(segment);
  try {
    return await ok(args);
  } finally {
    if (saved === undefined) delete process.env.SPARSETRACE_SEGMENT_SIZE;
    else process.env.SPARSETRACE_SEGMENT_SIZE = saved;
  }
}

/** Two stores' resultRows are identical (the message points at the first difference, not at megabytes of rows). */
function sameRows(actual: string, expected: string, what: string): void {
  if (actual === expected) return;
  let at = 0;
  while (at < Math.min(actual.length, expected.length) && actual[at] === expected[at]) at++;
  assert.fail(`${what}: the stored rows differ from one pass's at character ${at}: …${actual.slice(Math.max(0, at - 80), at + 80)}… instead of …${expected.slice(Math.max(0, at - 80), at + 80)}…`);
}

function rows(path: string, sql: string): unknown[][] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(sql).raw().all() as unknown[][];
  } finally {
    db.close();
  }
}

describe('the engine: a trace from a piece of the sequence (origin) equals the trace from all of it', () => {
  test('forward states from a carried state continue the one pass bit for bit', () => {
    const random = mulberry32(7);
    const model = randomModel(random, 9, 2);
    const bytes = Uint8Array.from({ length: 300 }, () => Math.floor(random() * 256));
    const whole = forwardStates(model, bytes);
    const kernel = forwardKernel(model);
    for (const cut of [1, 57, 299]) {
      const rest = kernel.states(bytes.subarray(cut), whole.slice((cut - 1) * 9, cut * 9));
      assert.deepEqual(rest, whole.subarray(cut * 9), `cut at ${cut}`);
    }
  });

  const CASES = [
    { hidden: 5, length: 400, dmax: 20, burnIn: 0, start: 100, count: 77 },
    { hidden: 8, length: 700, dmax: 60, burnIn: 90, start: 300, count: 250 }, // across a kernel chunk (512)
    { hidden: 3, length: 200, dmax: 7, burnIn: 7, start: 0, count: 30 }, // the origin is the sequence's start
  ];
  for (const c of CASES) {
    test(`H=${c.hidden} Dmax=${c.dmax} burn-in ${c.burnIn}: positions ${c.start}+${c.count}`, () => {
      const random = mulberry32(c.hidden * 31 + c.dmax);
      const model = randomModel(random, c.hidden, 1);
      const bytes = Uint8Array.from({ length: c.length }, () => Math.floor(random() * 12));
      const states = forwardStates(model, bytes);
      const tables = traceTables(model);
      const thresholds = Float32Array.from(TAUS, (tau) => Math.fround(tau));
      const input = { model, bytes, states, thresholds, dmax: c.dmax, rule: 'q1' as const, burnIn: c.burnIn };
      const whole = traceRange(input, tables, c.start, c.count);
      const origin = Math.max(0, c.start + c.burnIn - c.dmax);
      const end = c.start + c.burnIn + c.count + 1;
      const piece = traceRange(
        { ...input, bytes: bytes.slice(origin, end), states: states.slice(origin * c.hidden, end * c.hidden), origin },
        tables,
        c.start,
        c.count,
      );
      const plain = (r: RangeResult): unknown => ({ ...r, targets: [...r.targets], surprisal: [...r.surprisal], counts: [...r.counts], depthMass: [...r.depthMass], peakFactors: [...r.peakFactors] });
      assert.deepEqual(plain(piece), plain(whole));
      if (origin > 0) assert.throws(() => traceRange({ ...input, bytes: bytes.slice(origin + 1, end), states: states.slice((origin + 1) * c.hidden, end * c.hidden), origin: origin + 1 }, tables, c.start, c.count), /before the input's origin/);
    });
  }
});

test('segmentsOf: a shard belongs to the segment of its first position; segments with nothing left are left out', () => {
  const shards = [
    { start: 0, count: 37 },
    { start: 37, count: 37 },
    { start: 74, count: 37 }, // straddles 100
    { start: 111, count: 37 },
    { start: 400, count: 10 },
  ];
  assert.deepEqual(segmentsOf(shards, 100), [
    { index: 0, from: 0, to: 111, shards: shards.slice(0, 3) },
    { index: 1, from: 111, to: 148, shards: [shards[3]] },
    { index: 4, from: 400, to: 410, shards: [shards[4]] },
  ]);
});

describe('segmented windows store exactly the rows of one pass', () => {
  const folder = temporaryFolder('long-windows');
  after(() => folder.remove());

  const CASES: { name: string; args: string[]; segments: number[]; explain: number[] }[] = [
    {
      name: 'the shipped data, Dmax 50, shards of 37 straddling segments',
      args: ['--data', SHARED_DATA, '--offset', '0', '--length', '1024', '--dmax', '50', '--shard-size', '37', '--depth-curves'],
      segments: [100, 64, 1000],
      explain: [0, 49, 50, 51, 1022],
    },
    {
      name: 'a warm window: burn-in 300 (longer than a segment), Dmax 50',
      args: ['--data', SHARED_DATA, '--offset', '300', '--length', '724', '--burn-in', '300', '--dmax', '50', '--shard-size', '40', '--depth-curves'],
      segments: [64, 299, 301],
      explain: [0, 400, 722],
    },
    {
      name: 'Dmax 200, larger than a segment, with a burn-in of 120',
      args: ['--data', SHARED_DATA, '--offset', '120', '--length', '600', '--burn-in', '120', '--dmax', '200', '--shard-size', '50', '--depth-curves'],
      segments: [50, 130],
      explain: [5, 81, 598],
    },
    {
      name: 'a long stretch of a large file, Dmax 20, default shards',
      args: ['--data', LONG_DATA, '--offset', '4096', '--length', '6000', '--dmax', '20', '--threads', '2'],
      segments: [997],
      explain: [5_000, 5_998],
    },
  ];

  CASES.forEach((c, k) => {
    test(c.name, async () => {
      const common = ['run', '--model', SHARED_MODEL, ...c.args, '--no-report'];
      const whole = join(folder.path, `${k}-whole.sqlite`);
      await okWithSegments(undefined, [...common, '--db', whole]);
      const expected = resultRows(whole);
      assert.ok(expected.length > 1000);
      // explain recomputes a position from the bytes before it in pieces: its counts are the stored ones at every τ.
      for (const t of c.explain) {
        const explained = JSON.parse((await ok(['explain', '--db', whole, '--t', String(t), '--format', 'json'])).stdout) as { counts: { tau: number; n_x: number; n_h: number; n_y: number; stored: unknown }[] };
        assert.equal(explained.counts.length, TAUS.length);
        for (const { n_x, n_h, n_y, stored } of explained.counts) assert.deepEqual(stored, { n_x, n_h, n_y }, `explain --t ${t}`);
      }
      for (const segment of c.segments) {
        const db = join(folder.path, `${k}-${segment}.sqlite`);
        await okWithSegments(segment, [...common, '--db', db]);
        sameRows(resultRows(db), expected, `segments of ${segment}`);
      }
    });
  });
});

describe('the published per-position counts, computed in segments', () => {
  const folder = temporaryFolder('long-windows-reference');
  after(() => folder.remove());
  const reference = new Map<string, number[]>();
  before(() => {
    const lines = readFileSync(REFERENCE_POSITIONS, 'utf8').trim().split('\n');
    for (const line of lines.slice(1)) {
      const [t, , tau, nx, nh, ny] = line.split('\t');
      reference.set(`${Number(t)} ${Math.fround(Number(tau))}`, [Number(nx), Number(nh), Number(ny)]);
    }
    assert.equal(reference.size, 1023 * TAUS.length);
  });

  test('the Q1 job with segments of 100 positions has all 7,161 published counts', async () => {
    const db = join(folder.path, 'q1.sqlite');
    await okWithSegments(100, publishedJobArgs(db));
    const stored = rows(db, 'SELECT t, tau_f32, n_x, n_h, n_y FROM counts ORDER BY t, tau_index') as number[][];
    assert.equal(stored.length, 1023 * TAUS.length);
    for (const [t, tau, ...counts] of stored) assert.deepEqual(counts, reference.get(`${t} ${tau}`), `t=${t} τ=${tau}`);
  });
});

describe('the shared memory of a window is bounded by the segment size, not by its length', () => {
  const folder = temporaryFolder('long-windows-memory');
  after(() => folder.remove());
  const quiet: RunEvents = { jobPlanned() {}, runStarted() {}, shardCommitted() {}, runFinished() {} };

  async function execute(length: number, segmentSize: number, dmax: number, pool?: ShardPool): Promise<ExecuteResult> {
    const spec = parseJob(
      { name: `memory-${length}`, models: [SHARED_MODEL], data: [{ path: LONG_DATA, offset: 0, length }], dmax: [dmax], tau: [0.01] },
      'test',
      (path) => path,
    );
    const job = expandRuns(spec, () => {});
    const store = await openLockedStore(join(folder.path, `m-${length}-${segmentSize}.sqlite`), { command: 'test', wait: false, log: () => {} });
    try {
      recordJobRuns(store.db, spec, job, null);
      return await executeRuns(store.db, job.models, job.runs, { threads: 2, stopSignal: new AbortController().signal, events: quiet, segmentSize, shardSize: 64, pool });
    } finally {
      store.release();
      closeDatabase(store.db);
    }
  }

  test('windows of 4,000 and 16,000 positions in segments of 500 take the same shared memory, a few segments', async () => {
    const dmax = 30;
    const segment = 500;
    // A segment's buffers: its positions, a shard straddling its end, the Dmax states before it, the last target.
    const oneSegment = pieceBytes(segment + 64 + dmax + 1, 128);
    const short = await execute(4_000, segment, dmax);
    const long = await execute(16_000, segment, dmax);
    assert.equal(short.runsDone, 1);
    assert.equal(long.runsDone, 1);
    for (const result of [short, long]) {
      assert.ok(result.largestWindowBytes <= oneSegment, `largest buffer ${result.largestWindowBytes} > one segment ${oneSegment}`);
      assert.ok(result.segmentBytes > 0 && result.segmentBytes <= 4 * oneSegment, `segments took ${result.segmentBytes} B, more than 4 segments (${4 * oneSegment} B)`);
    }
    // 16,000 positions whole would be 16,001 rows: far above what the segments took.
    assert.ok(long.segmentBytes < pieceBytes(16_001, 128) / 3);
  });

  test('a window of 12,000 positions: its 188 shards come back in a few result slots, reused (about the shards in flight)', async () => {
    const pool = new ShardPool(2);
    try {
      const result = await execute(12_000, 500, 30, pool);
      assert.equal(result.runsDone, 1);
      // At most TASKS_PER_THREAD shards per thread are out at once; a slot outgrown by a larger shard is made again, once or twice.
      assert.ok(pool.slotsMade > 0 && pool.slotsMade <= 2 * 2 * TASKS_PER_THREAD, `${pool.slotsMade} slots made for 188 shards`);
    } finally {
      await pool.destroy();
    }
  });

  test('a window no longer than a segment is one buffer of its own length, as before', async () => {
    const result = await execute(3_000, 4_000, 10);
    assert.equal(result.segmentBytes, 0);
    assert.equal(result.largestWindowBytes, pieceBytes(3_000, 128));
  });
});

describe('a long window killed mid-window resumes in segments to the same rows', () => {
  const folder = temporaryFolder('long-windows-resume');
  after(() => folder.remove());

  test('SIGKILL after some shards of a 6,000-position window in segments of 350, then resume', async () => {
    const args = ['--model', SHARED_MODEL, '--data', LONG_DATA, '--offset', '2000', '--length', '6001', '--burn-in', '900', '--dmax', '40', '--shard-size', '64', '--threads', '2', '--no-report'];
    const whole = join(folder.path, 'whole.sqlite');
    await okWithSegments(undefined, ['run', ...args, '--db', whole]);
    const killed = join(folder.path, 'killed.sqlite');
    const total = Math.ceil(6_000 / 64);
    const child = cliProcess(['run', ...args, '--db', killed], { env: { ...process.env, SPARSETRACE_SEGMENT_SIZE: '350' } });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    let committed = 0;
    // Kill once a third of the shards are committed (read from the database, not a clock).
    for (let tries = 0; tries < 6000 && child.exitCode === null; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      try {
        committed = rows(killed, 'SELECT count(*) FROM shards')[0][0] as number;
      } catch {
        continue; // not created yet
      }
      if (committed >= total / 3) break;
    }
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL', `the run ended before the kill: ${stderr}`);
    const left = rows(killed, 'SELECT count(*) FROM shards')[0][0] as number;
    assert.ok(left > 0 && left < total, `${left} of ${total} shards committed at the kill`);
    await okWithSegments(350, ['resume', '--db', killed]);
    sameRows(resultRows(killed), resultRows(whole), 'resumed after SIGKILL');
  });
});

describe('plan says how much memory a job needs, the same for a long window as for a short one', () => {
  const folder = temporaryFolder('long-windows-plan');
  after(() => folder.remove());
  test('windows of 1 MB and 8 MB of a large file: the same memory, a few hundred MB at most', async () => {
    const plan = async (length: number): Promise<{ memory: { totalBytes: number; perThreadBytes: number; orchestratorBytes: number; sharedBytes: number; windowBytes: number; segmentSize: number } }> => {
      const result = await ok(['plan', '--model', SHARED_MODEL, '--data', LONG_DATA, '--offset', '0', '--length', String(length), '--threads', '2', '--format', 'json', '--db', join(folder.path, 'none.sqlite')]);
      return JSON.parse(result.stdout) as never;
    };
    const short = await plan(1_000_000);
    const long = await plan(8_000_000);
    assert.deepEqual(long.memory, short.memory);
    const { memory } = long;
    assert.equal(memory.segmentSize, 32_768);
    assert.equal(memory.totalBytes, memory.sharedBytes + 2 * memory.perThreadBytes + memory.orchestratorBytes);
    assert.ok(memory.windowBytes >= pieceBytes(32_768 + 50 + 1, 128), `a segment's buffer: ${memory.windowBytes}`);
    assert.ok(memory.totalBytes < 500e6, `${memory.totalBytes} B`);
  });
});
