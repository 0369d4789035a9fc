/** The worker pool's life cycle: threads report their module loaded; destroy() never interrupts a load. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { forwardFlag, forwardOnce } from '../src/runner/forwardOnce.js';
import { allLoaded, loadedCounter, markLoaded } from '../src/runner/loaded.js';
import { PROJECT_ROOT, SHARED_DATA, SHARED_MODEL } from './cli.js';
import { forwardStates } from '../src/engine/index.js';
import { expandJob, parseJob } from '../src/job/index.js';
import { startWindows } from '../src/runner/execute.js';
import { ShardPool, sharedModel } from '../src/runner/pool.js';
import { WindowCache } from '../src/runner/windows.js';
import { Holds } from '../src/runner/holds.js';
import type { ForwardTask } from '../src/runner/worker.js';
import traceShard, { type ShardTask, type TracedShard } from '../src/runner/worker.js';
import { unpackShard } from '../src/runner/codec.js';
import { loadModel } from '../src/model/index.js';
import { FREQUENCY_TAUS } from '../src/page.js';
import { transferableSymbol, valueSymbol } from 'piscina';
import { readFileSync } from 'node:fs';

describe('allLoaded / markLoaded', () => {
  test('resolves once every thread has marked itself loaded, a microtask after its module ran', async () => {
    const counter = loadedCounter();
    const loader = pathToFileURL(join(PROJECT_ROOT, 'dist', 'src', 'runner', 'loaded.js')).href;
    const threads = [0, 1, 2].map(
      () => new Worker(`import(${JSON.stringify(loader)}).then(({ markLoaded }) => markLoaded(require('node:worker_threads').workerData));`, { eval: true, workerData: counter }),
    );
    await allLoaded(counter, 3, 10_000);
    assert.equal(Atomics.load(counter.loaded, 0), 3);
    await Promise.all(threads.map((thread) => thread.terminate()));
  });

  test('gives up after the timeout when a thread never loads (it died)', async () => {
    const counter = loadedCounter();
    markLoaded(counter);
    await Promise.resolve(); // the mark lands a microtask later
    const started = performance.now();
    await allLoaded(counter, 2, 50);
    assert.equal(Atomics.load(counter.loaded, 0), 1);
    assert.ok(performance.now() - started >= 45, 'waited for the timeout');
  });

  test('ignores threads not started with a counter', () => {
    assert.doesNotThrow(() => markLoaded(undefined));
    assert.doesNotThrow(() => markLoaded({ other: 1 }));
  });
});

describe('forwardOnce', () => {
  const module = pathToFileURL(join(PROJECT_ROOT, 'dist', 'src', 'runner', 'forwardOnce.js')).href;
  /** Threads that each call forwardOnce on one flag; the compute counts itself, takes `ms`, and throws if `fail`. */
  const race = (threads: number, ms: number, fail: boolean) => {
    const flag = forwardFlag();
    const computed = new Int32Array(new SharedArrayBuffer(4));
    const code = `const { workerData, parentPort } = require('node:worker_threads');
      import(${JSON.stringify(module)}).then(({ forwardOnce }) => {
        try {
          forwardOnce(workerData.flag, () => {
            Atomics.add(workerData.computed, 0, 1);
            Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ${ms});
            if (${fail}) throw new Error('compute failed');
          });
          parentPort.postMessage({ ok: true });
        } catch (error) {
          parentPort.postMessage({ ok: false, message: error.message });
        }
      });`;
    const outcomes = Array.from({ length: threads }, () => {
      const worker = new Worker(code, { eval: true, workerData: { flag, computed } });
      return new Promise<{ ok: boolean; message?: string }>((resolve) => worker.once('message', (outcome) => void worker.terminate().then(() => resolve(outcome))));
    });
    return { flag, computed, outcomes: Promise.all(outcomes) };
  };

  test('one of the threads computes, the others wait for it and find the states complete', async () => {
    const { computed, outcomes } = race(4, 30, false);
    assert.deepEqual(await outcomes, [{ ok: true }, { ok: true }, { ok: true }, { ok: true }]);
    assert.equal(Atomics.load(computed, 0), 1);
  });

  test('a failed computation fails every thread that waited for it, and is not retried', async () => {
    const { computed, outcomes } = race(3, 30, true);
    const results = await outcomes;
    assert.equal(Atomics.load(computed, 0), 1);
    assert.ok(results.every((outcome) => !outcome.ok), JSON.stringify(results));
    assert.equal(results.filter((outcome) => outcome.message === 'compute failed').length, 1);
  });

  test('a finished flag computes nothing more', () => {
    const flag = forwardFlag();
    let runs = 0;
    forwardOnce(flag, () => runs++);
    forwardOnce(flag, () => runs++);
    assert.equal(runs, 1);
  });
});

describe('ShardPool.destroy', () => {
  test('waits for a forward pass in flight (startWindows began it), and is idempotent', async () => {
    const spec = parseJob({ models: [SHARED_MODEL], data: [{ path: SHARED_DATA, length: 300 }], tau: [0.01] }, 'test', (path) => path);
    const { models, runs } = expandJob(spec, () => {});
    const pool = new ShardPool(1);
    const windows = startWindows(pool, models.map((loaded) => loaded.model), runs);
    const stopping = pool.destroy();
    assert.equal(pool.destroy(), stopping, 'a second destroy() is the first one');
    await stopping;
    const window = windows.get(runs[0]);
    assert.equal(windows.failure, undefined);
    assert.equal(Atomics.load(new Int32Array(window.ready), 0), 2, 'the forward pass finished (DONE), it was not cut off');
    const states = new Float32Array(window.states);
    assert.deepEqual(states, forwardStates(models[0].model, new Uint8Array(window.bytes)));
  });

  test('right after the pool starts, at random moments of the threads loading: the process lives', () => {
    // Node 20 aborts the process when a thread is terminated while it loads an ES module
    // (about one destroy in 600 did before destroy() waited); a run failing on bad input does this.
    const pool = pathToFileURL(join(PROJECT_ROOT, 'dist', 'src', 'runner', 'pool.js')).href;
    const script = `const { ShardPool } = await import(${JSON.stringify(pool)});
      for (let k = 0; k < 40; k++) {
        const pool = new ShardPool(2);
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 100));
        await pool.destroy();
      }
      console.log('alive');`;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(result.signal, null, result.stderr);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout.trim(), 'alive');
  });
});

describe('Holds', () => {
  test('release() is true for the last holder only, and for an item nobody held', () => {
    const holds = new Holds<string>();
    holds.hold('a', 2);
    holds.hold('a');
    assert.deepEqual([holds.release('a'), holds.release('a'), holds.held('a')], [false, false, true]);
    assert.equal(holds.release('a'), true);
    assert.equal(holds.held('a'), false);
    assert.equal(holds.release('never held'), true);
  });
});

describe('WindowCache', () => {
  /** Windows of 200 bytes at offsets 0, 200, 400, … of the shipped data (all the same size), and a cache of 2 whose forward passes wait for `finish`. */
  function cacheOfWindows(count: number) {
    const spec = parseJob({ models: [SHARED_MODEL], data: [{ path: SHARED_DATA, length: 200, stride: 200, count }], tau: [0.01] }, 'test', (path) => path);
    const { models, runs } = expandJob(spec, () => {});
    const model = models[0].model;
    const passes: { task: ForwardTask; finish: () => void }[] = [];
    const cache = new WindowCache([sharedModel(model)], (task) => new Promise<void>((resolve) => passes.push({ task, finish: resolve })), 2);
    /** Completes every forward pass begun so far, as the pool would, and lets their promises settle. */
    const forwardAll = async (): Promise<void> => {
      for (const { task, finish } of passes.splice(0)) {
        new Float32Array(task.states).set(forwardStates(model, new Uint8Array(task.bytes)));
        finish();
      }
      await new Promise((resolve) => setImmediate(resolve));
    };
    const expected = (k: number): { bytes: Uint8Array; states: Float32Array } => {
      const bytes = new Uint8Array(readFileSync(SHARED_DATA).subarray(200 * k, 200 * (k + 1)));
      return { bytes, states: forwardStates(model, bytes) };
    };
    return { cache, runs, forwardAll, expected };
  }

  test('a window out of the cache that nothing holds lends its buffers to the next window of its size, which gets its own bytes and states', async () => {
    const { cache, runs, forwardAll, expected } = cacheOfWindows(4);
    const first = cache.get(runs[0]);
    cache.get(runs[1]);
    await forwardAll();
    const third = cache.get(runs[2]); // the first leaves the cache (capacity 2), released: its buffers are spare
    assert.equal(third.bytes, first.bytes);
    assert.equal(third.states, first.states);
    assert.notEqual(third.ready, first.ready, 'a new flag: the new window\'s forward pass is still to come');
    await forwardAll();
    assert.deepEqual(new Uint8Array(third.bytes), expected(2).bytes);
    assert.deepEqual(new Float32Array(third.states), expected(2).states);
  });

  test('a held window (a shard in flight) and one whose forward pass runs keep their buffers until released', async () => {
    const { cache, runs, forwardAll } = cacheOfWindows(5);
    const first = cache.get(runs[0]);
    cache.hold(first); // a shard of it on a thread
    const second = cache.get(runs[1]); // its forward pass not done yet
    const third = cache.get(runs[2]);
    const fourth = cache.get(runs[3]);
    const taken = new Set([first, second].flatMap((window) => [window.bytes, window.states]));
    for (const window of [third, fourth]) {
      assert.equal(taken.has(window.bytes) || taken.has(window.states), false, 'a window in use lent its buffers');
    }
    await forwardAll(); // second's pass is done and it is out of the cache: spare
    cache.release(first); // its shard committed: spare too
    const fifth = cache.get(runs[4]);
    assert.ok(taken.has(fifth.bytes) && taken.has(fifth.states), 'the fifth window reuses a released window\'s buffers');
  });
});

describe('traceShard', () => {
  /** A shard of 20 positions of the shipped data's first 64 bytes, its forward pass not yet computed. */
  function shardTask(): { task: ShardTask; hidden: number } {
    const { model } = loadModel(SHARED_MODEL);
    const text = readFileSync(SHARED_DATA).subarray(0, 64);
    const bytes = new SharedArrayBuffer(text.length);
    new Uint8Array(bytes).set(text);
    const states = new SharedArrayBuffer(4 * text.length * model.hidden);
    const thresholds = Float32Array.of(0.01, 0.1);
    const task: ShardTask = { model: sharedModel(model), windowKey: 'first-64', bytes, states, ready: forwardFlag(), thresholds, dmax: 10, rule: 'q1', burnIn: 0, depthCurves: false, start: 0, count: 20 };
    return { task, hidden: model.hidden };
  }

  const shape = (hidden: number) => ({ count: 20, thresholds: 2, dmax: 10, hidden, depthCurves: false, burnIn: 0, frequencies: FREQUENCY_TAUS.length });

  test('returns piscina\'s movable: the packed shard in its transfer list (moved to the writer\'s thread, not copied)', () => {
    const { task, hidden } = shardTask();
    const result = traceShard(task) as unknown as Record<symbol, unknown>;
    const traced = result[valueSymbol] as TracedShard;
    assert.ok(traced.packed instanceof ArrayBuffer && traced.packed.byteLength > 0);
    assert.deepEqual(result[transferableSymbol], [traced.packed]);
    assert.equal(unpackShard(traced.packed, task.start, shape(hidden), traced.seconds).range.count, 20);
  });

  test('through ShardPool.trace the writer\'s thread gets the TracedShard itself, the same bytes as in-process', async () => {
    const { task, hidden } = shardTask();
    const inProcess = (traceShard(task) as unknown as Record<symbol, TracedShard>)[valueSymbol];
    const pool = new ShardPool(1);
    try {
      const traced = await pool.trace({ ...task, ready: forwardFlag(), states: new SharedArrayBuffer(task.states.byteLength) });
      assert.deepEqual(Object.getOwnPropertySymbols(traced), []);
      assert.ok(traced.packed instanceof ArrayBuffer);
      assert.deepEqual(new Uint8Array(traced.packed), new Uint8Array(inProcess.packed));
      assert.equal(unpackShard(traced.packed, task.start, shape(hidden), traced.seconds).range.count, 20);
    } finally {
      await pool.destroy();
    }
  });

  test('ShardPool.trace packs the shards after the first into a result slot, the same one each time it is released', async () => {
    const { task, hidden } = shardTask();
    const expected = new Uint8Array((traceShard(task) as unknown as Record<symbol, TracedShard>)[valueSymbol].packed);
    const pool = new ShardPool(1);
    try {
      const states = new SharedArrayBuffer(task.states.byteLength);
      for (let k = 0; k < 4; k++) {
        const traced = await pool.trace({ ...task, ready: forwardFlag(), states });
        // The first, sent without a slot, tells the pool how long to make them.
        assert.equal(traced.packed instanceof SharedArrayBuffer, k > 0, `shard ${k}`);
        assert.equal(traced.bytes, expected.byteLength);
        assert.deepEqual(new Uint8Array(traced.packed, 0, traced.bytes), expected);
        assert.equal(unpackShard(traced.packed, task.start, shape(hidden), traced.seconds, traced.bytes).range.count, 20);
        pool.release(traced);
      }
      assert.equal(pool.slotsMade, 1);
      // Not released: the next shard gets a new slot, so the one still read is never written.
      const held = await pool.trace({ ...task, ready: forwardFlag(), states });
      const next = await pool.trace({ ...task, ready: forwardFlag(), states });
      assert.equal(pool.slotsMade, 2);
      assert.deepEqual(new Uint8Array(held.packed, 0, held.bytes), expected);
      assert.deepEqual(new Uint8Array(next.packed, 0, next.bytes), expected);
    } finally {
      await pool.destroy();
    }
  });
});
