import { InputError } from '../errors.js';
import type { PlannedRun } from '../job/expand.js';
import { loadDataWindow } from '../model/index.js';
import { forwardFlag, type SharedWindow } from './forwardOnce.js';
import { Holds } from './holds.js';
import { pieceBytes } from './segments.js';
import type { ForwardTask, SharedModel } from './worker.js';

/**
 * The shared windows of a job's runs, their forward passes computed on the pool
 * (not on the thread that writes the results): `get` a run's window (its shards
 * can be queued at once), `prefetch` the next runs' so that their forward passes
 * are queued ahead of their shards. Holds at most `capacity` windows (the most
 * recent), so a sweep of many windows keeps its memory bound. Only windows
 * of at most a segment (segments.ts): a longer one is computed segment by segment.
 *
 * A window's buffers are reused by a later window of the same size once the
 * window has left the cache and nothing uses it: whoever hands it to a thread
 * holds it (`hold`, `release`), as its forward pass does here. Allocating and
 * zeroing fresh shared memory for every window took about a tenth of the
 * writer's thread in a sweep of 1 KiB windows on 2 threads.
 */
export class WindowCache {
  private readonly windows = new Map<string, SharedWindow>();
  /** Holders of each window in use (its forward pass, shards in flight). */
  private readonly holders = new Holds<SharedWindow>();
  /** Windows out of the cache that are still held: their buffers are spare once released. */
  private readonly leaving = new Set<SharedWindow>();
  /** Buffers of windows nobody uses any more, newest last; at most `capacity` of them. */
  private readonly spare: { readonly bytes: SharedArrayBuffer; readonly states: SharedArrayBuffer }[] = [];
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
      // Room first, so the window leaving can lend its buffers to this one.
      for (const [oldKey, old] of this.windows) {
        if (this.windows.size < this.capacity) break;
        this.windows.delete(oldKey);
        this.leave(old);
      }
      window = this.load(run);
      this.windows.set(key, window);
    }
    return window;
  }

  /** `window` is in use until as many release() calls (a shard handed to a thread): its buffers are not reused meanwhile. */
  hold(window: SharedWindow): void {
    this.holders.hold(window);
  }

  release(window: SharedWindow): void {
    if (this.holders.release(window) && this.leaving.delete(window)) this.recycle(window);
  }

  private leave(window: SharedWindow): void {
    if (this.holders.held(window)) this.leaving.add(window);
    else this.recycle(window);
  }

  private recycle({ bytes, states }: SharedWindow): void {
    this.spare.push({ bytes, states });
    if (this.spare.length > this.capacity) this.spare.shift();
  }

  /** Spare buffers for a window of `length` bytes (the forward pass and the copy overwrite all of them), else new ones. */
  private buffers(length: number, hidden: number): { bytes: SharedArrayBuffer; states: SharedArrayBuffer } {
    const found = this.spare.findIndex(({ bytes, states }) => bytes.byteLength === length && states.byteLength === 4 * length * hidden);
    if (found >= 0) return this.spare.splice(found, 1)[0];
    return { bytes: new SharedArrayBuffer(length), states: new SharedArrayBuffer(4 * length * hidden) };
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
    const model = this.models[run.modelIndex];
    const { bytes, states } = this.buffers(data.bytes.length, model.hidden);
    new Uint8Array(bytes).set(data.bytes);
    const window: SharedWindow = { bytes, states, ready: forwardFlag() };
    this.largest = Math.max(this.largest, pieceBytes(data.bytes.length, model.hidden));
    this.hold(window);
    this.forwardOnPool({ model, ...window })
      .catch((error: unknown) => {
        this.failure ??= error;
      })
      .finally(() => this.release(window));
    return window;
  }
}
