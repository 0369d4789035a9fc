import { InputError } from '../errors.js';
import type { PlannedRun } from '../job/expand.js';
import { loadDataWindow } from '../model/index.js';
import { forwardFlag, type SharedWindow } from './forwardOnce.js';
import { pieceBytes } from './segments.js';
import type { ForwardTask, SharedModel } from './worker.js';

/**
 * The shared windows of a job's runs, their forward passes computed on the pool
 * (not on the thread that writes the results): `get` a run's window (its shards
 * can be queued at once), `prefetch` the next runs' so that their forward passes
 * are queued ahead of their shards. Holds at most `capacity` windows (the most
 * recent), so a sweep of many windows keeps its memory bound. Only windows
 * of at most a segment (segments.ts): a longer one is computed segment by segment.
 */
export class WindowCache {
  private readonly windows = new Map<string, SharedWindow>();
  /** The first forward pass that failed, if one did (its window's shards fail too, less tellingly). */
  failure: unknown;
  /** The largest window allocated (bytes of its shared bytes and states). */
  largest = 0;

  constructor(
    private readonly models: readonly SharedModel[],
    private readonly forwardOnPool: (task: ForwardTask) => Promise<void>,
    private readonly capacity = 2,
  ) {}

  /** The run's window; throws InputError if its data changed since the job was planned. */
  get(run: PlannedRun): SharedWindow {
    const key = `${run.modelIndex}:${run.data.sha256}`;
    let window = this.windows.get(key);
    if (window === undefined) {
      window = this.load(run);
      this.windows.set(key, window);
      for (const old of this.windows.keys()) if (this.windows.size > this.capacity) this.windows.delete(old);
    }
    return window;
  }

  prefetch(run: PlannedRun): void {
    this.get(run);
  }

  private load(run: PlannedRun): SharedWindow {
    // A warm window's bytes and states begin with its burn-in (the traces reach back into it).
    const burnIn = run.data.burnIn ?? 0;
    const data = loadDataWindow(run.data.path, run.data.offset, run.data.length, burnIn);
    if (data.sha256 !== run.data.sha256) {
      throw new InputError(
        `data ${run.data.path}: the window at offset ${run.data.offset}${burnIn > 0 ? ` (with its ${burnIn} bytes of burn-in)` : ''} changed since run ${run.runId} was planned (sha256 ${data.sha256}, expected ${run.data.sha256})`,
      );
    }
    const bytes = new SharedArrayBuffer(data.bytes.length);
    new Uint8Array(bytes).set(data.bytes);
    const model = this.models[run.modelIndex];
    const window = { bytes, states: new SharedArrayBuffer(4 * data.bytes.length * model.hidden), ready: forwardFlag() };
    this.largest = Math.max(this.largest, pieceBytes(data.bytes.length, model.hidden));
    this.forwardOnPool({ model, ...window }).catch((error: unknown) => {
      this.failure ??= error;
    });
    return window;
  }
}
