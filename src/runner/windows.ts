import { InputError } from '../errors.js';
import type { PlannedRun } from '../job/expand.js';
import { loadDataWindow } from '../model/index.js';
import type { ForwardTask, SharedModel } from './worker.js';

/** A window's bytes and forward states in shared memory; runs differing only in Dmax share them. */
export interface SharedWindow {
  readonly bytes: SharedArrayBuffer;
  readonly states: SharedArrayBuffer;
}

/**
 * The shared windows of a job's runs, their forward passes computed on the pool
 * (not on the thread that writes the results): `get` a run's window, `prefetch`
 * the next run's while this one's shards are computed. Holds at most the two
 * most recent windows, so a sweep of many windows keeps its memory bound.
 */
export class WindowCache {
  private readonly windows = new Map<string, Promise<SharedWindow>>();

  constructor(
    private readonly models: readonly SharedModel[],
    private readonly forwardOnPool: (task: ForwardTask) => Promise<void>,
  ) {}

  get(run: PlannedRun): Promise<SharedWindow> {
    const key = `${run.modelIndex}:${run.data.sha256}`;
    let window = this.windows.get(key);
    if (window === undefined) {
      window = this.load(run);
      // A prefetch nobody awaits yet must not be an unhandled rejection; get() rethrows it.
      window.catch(() => {});
      this.windows.set(key, window);
      for (const old of this.windows.keys()) if (this.windows.size > 2) this.windows.delete(old);
    }
    return window;
  }

  prefetch(run: PlannedRun | undefined): void {
    if (run !== undefined) void this.get(run);
  }

  /** Resolves once no forward pass is running: the pool must not be destroyed under one (piscina then fails on its late result). */
  async settled(): Promise<void> {
    await Promise.allSettled(this.windows.values());
  }

  private async load(run: PlannedRun): Promise<SharedWindow> {
    const data = loadDataWindow(run.data.path, run.data.offset, run.data.length);
    if (data.sha256 !== run.data.sha256) {
      throw new InputError(
        `data ${run.data.path}: the window at offset ${run.data.offset} changed since run ${run.runId} was planned (sha256 ${data.sha256}, expected ${run.data.sha256})`,
      );
    }
    const bytes = new SharedArrayBuffer(data.bytes.length);
    new Uint8Array(bytes).set(data.bytes);
    const model = this.models[run.modelIndex];
    const states = new SharedArrayBuffer(4 * data.bytes.length * model.hidden);
    await this.forwardOnPool({ model, bytes, states });
    return { bytes, states };
  }
}
