import { Piscina } from 'piscina';
import { modelFloatCount, type Model } from '../engine/index.js';
import type { ForwardTask, ShardTask, SharedModel } from './worker.js';

/**
 * The worker threads that compute a job: shards (`trace`) and windows' forward
 * passes (`forward`). Start it early: its threads boot (Node, the engine's
 * modules and WebAssembly) while the job is expanded and the database opened.
 * One pool can serve several executeRuns calls; its owner destroys it.
 */
export class ShardPool {
  private readonly pool: Piscina<ShardTask | ForwardTask, unknown>;

  constructor(readonly threads: number) {
    this.pool = new Piscina<ShardTask | ForwardTask, unknown>({
      filename: new URL('./worker.js', import.meta.url).href,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: 60_000,
    });
  }

  trace(task: ShardTask): Promise<ArrayBuffer> {
    return this.pool.run(task) as Promise<ArrayBuffer>;
  }

  forward(task: ForwardTask): Promise<void> {
    return this.pool.run(task, { name: 'forward' }) as Promise<void>;
  }

  async destroy(): Promise<void> {
    await this.pool.destroy();
  }
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
