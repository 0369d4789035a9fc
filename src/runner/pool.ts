import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { modelFloatCount, type Model } from '../engine/index.js';
import { allLoaded, loadedCounter, type LoadedCounter } from './loaded.js';
import type { ForwardTask, ShardTask, SharedModel } from './worker.js';

/**
 * The worker threads that compute a job: shards (`trace`) and windows' forward
 * passes (`forward`). Start it early: its threads boot (Node, the engine's
 * modules and WebAssembly) while the job is expanded and the database opened.
 * One pool can serve several executeRuns calls; its owner destroys it.
 */
export class ShardPool {
  private readonly pool: Piscina<ShardTask | ForwardTask | SharedModel, unknown>;
  private readonly loaded: LoadedCounter = loadedCounter();
  /** prepare() tasks: nobody else awaits them, and piscina fails on a result that comes after destroy(). */
  private readonly preparing = new Set<Promise<unknown>>();

  constructor(readonly threads: number) {
    this.pool = new Piscina<ShardTask | ForwardTask | SharedModel, unknown>({
      filename: new URL('./worker.js', import.meta.url).href,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: 60_000,
      // A thread holds its next task while it computes one, so it starts it without a
      // round trip through the main thread, which may be busy committing a shard.
      concurrentTasksPerWorker: 2,
      workerData: this.loaded,
    });
  }

  trace(task: ShardTask): Promise<SharedArrayBuffer> {
    return this.pool.run(task) as Promise<SharedArrayBuffer>;
  }

  forward(task: ForwardTask): Promise<void> {
    return this.pool.run(task, { name: 'forward' }) as Promise<void>;
  }

  /**
   * Builds a model's trace tables on the threads that are idle while the first
   * forward pass runs (one task each; piscina hands them to idle threads first).
   */
  prepare(model: SharedModel): void {
    for (let k = 1; k < this.threads; k++) {
      // A failure here shows again, with its context, in the shard that needs the tables.
      const task = this.pool.run(model, { name: 'prepare' }).catch(() => {});
      this.preparing.add(task);
      void task.finally(() => this.preparing.delete(task));
    }
  }

  async destroy(): Promise<void> {
    // Not while a thread still loads its module (see loaded.ts), nor under a prepare task.
    await allLoaded(this.loaded, this.threads, THREAD_LOAD_TIMEOUT_MS);
    await Promise.allSettled(this.preparing);
    await this.pool.destroy();
  }
}

/** How long destroy() waits for threads to load their module: far longer than they take (50–150 ms). */
const THREAD_LOAD_TIMEOUT_MS = 10_000;

/** Worker threads by default: one per core. */
export function defaultThreads(): number {
  return availableParallelism();
}

const shared = new WeakMap<Model, SharedModel>();
let modelsShared = 0;

/** A model's weights in shared memory, made once per Model object, so workers keep its tables between jobs. */
export function sharedModel(model: Model): SharedModel {
  let found = shared.get(model);
  if (found === undefined) {
    const weights = new SharedArrayBuffer(4 * modelFloatCount(model.hidden));
    const flat = new Float32Array(weights);
    let offset = 0;
    for (const block of [model.wx, model.wh, model.bh, model.wy, model.by]) {
      flat.set(block, offset);
      offset += block.length;
    }
    found = { key: `model-${++modelsShared}`, weights, hidden: model.hidden };
    shared.set(model, found);
  }
  return found;
}
