import { Piscina } from 'piscina';
import { modelFloatCount, type Model } from '../engine/index.js';
import { allLoaded, loadedCounter, type LoadedCounter } from './loaded.js';
import { ResultSlots } from './resultSlots.js';
import type { ForwardTask, ShardTask, SharedModel, TracedShard } from './worker.js';

/**
 * The worker threads that compute a job: shards (`trace`) and windows' forward
 * passes (`forward`). Start it early: its threads boot (Node, the engine's
 * modules and WebAssembly) while the job is expanded and the database opened.
 * One pool can serve several executeRuns calls; its owner destroys it.
 */
export class ShardPool {
  private readonly pool: Piscina<ShardTask | ForwardTask, unknown>;
  private readonly loaded: LoadedCounter = loadedCounter();
  private readonly slots = new ResultSlots();
  /** Forward tasks in flight: nobody need await them (shards wait on the window's flag), and piscina fails on a result that comes after destroy(). */
  private readonly forwarding = new Set<Promise<void>>();
  /** What destroy() returned first: it returns it again. */
  private destroyed: Promise<void> | undefined;

  constructor(readonly threads: number) {
    this.pool = new Piscina<ShardTask | ForwardTask, unknown>({
      filename: new URL('./worker.js', import.meta.url).href,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: 60_000,
      // A thread holds its next tasks while it computes one, so it starts the next without a
      // round trip through the main thread, which may be busy committing or checkpointing.
      concurrentTasksPerWorker: TASKS_PER_THREAD,
      // Without Atomics, a thread takes its tasks one 'message' event at a time and posts
      // each result as soon as it is computed. With them (piscina's default), a thread
      // that holds two tasks starts both before posting either result, so a shard
      // reached the main thread only once the next one was computed too.
      atomics: 'disabled',
      workerData: this.loaded,
    });
  }

  /**
   * Traces a shard on a thread, which packs it into one of the pool's result
   * slots (resultSlots.ts): the TracedShard's views hold until release().
   */
  async trace(task: Omit<ShardTask, 'resultSlot'>): Promise<TracedShard> {
    const slot = this.slots.take();
    let traced: TracedShard;
    try {
      traced = (await this.pool.run({ ...task, resultSlot: slot })) as TracedShard;
    } catch (error) {
      if (slot !== undefined) this.slots.give(slot);
      throw error;
    }
    if (!(traced.packed instanceof SharedArrayBuffer)) {
      // It did not fit (or came with no slot): the next slots are made to hold it.
      this.slots.needed(traced.bytes);
      if (slot !== undefined) this.slots.give(slot);
    }
    return traced;
  }

  /** The caller is done with a traced shard (committed or failed): its slot takes another shard. */
  release(traced: TracedShard): void {
    if (traced.packed instanceof SharedArrayBuffer) this.slots.give(traced.packed);
  }

  /** Result slots made so far (tests check that they are reused). */
  get slotsMade(): number {
    return this.slots.made;
  }

  forward(task: ForwardTask): Promise<void> {
    const forwarded = this.pool.run(task, { name: 'forward' }) as Promise<void>;
    const settled = forwarded.then(
      () => {},
      () => {},
    );
    this.forwarding.add(settled);
    void settled.then(() => this.forwarding.delete(settled));
    return forwarded;
  }

  /**
   * Stops the threads. Idempotent: a command calls it as soon as its computing is
   * done, so the threads stop while it writes the report, and again at its end.
   */
  destroy(): Promise<void> {
    this.destroyed ??= this.stop();
    return this.destroyed;
  }

  private async stop(): Promise<void> {
    // Not while a thread still loads its module (see loaded.ts), nor under a forward task.
    await allLoaded(this.loaded, this.threads, THREAD_LOAD_TIMEOUT_MS);
    await Promise.all(this.forwarding);
    await this.pool.destroy();
  }
}

/**
 * Shards a thread holds at once (the one it computes and those it starts next), and
 * so the schedule's shards in flight per thread. The writer's thread is busy for up
 * to a few hundred ms at a time (a WAL checkpoint of 16 MB, a collection); with two,
 * a thread that finished both waited for it. In a 300-window sweep, four instead of
 * two cut the 2 cores' idle time at 2 threads from 1.1–1.5 s to 0.8–1.0 s (most of
 * it now the sweep's start and end), and the wall time at 1 thread by about 0.5 s.
 */
export const TASKS_PER_THREAD = 4;

/** How long destroy() waits for threads to load their module: far longer than they take (50–150 ms). */
const THREAD_LOAD_TIMEOUT_MS = 10_000;

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
