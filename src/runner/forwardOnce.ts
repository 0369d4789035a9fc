/**
 * A window's forward pass, computed once by whichever pool thread needs it
 * first: the prefetching forward task, or a shard of the window that was
 * picked up before it. The others wait for it on a flag in shared memory, so
 * no shard waits for the main thread to learn that a window is ready (it may
 * be busy committing). A thread only waits for a pass another thread is
 * computing, never for one still queued, so threads cannot deadlock.
 */
/**
 * A window's bytes and forward states in shared memory (shared with every task,
 * never copied); runs differing only in Dmax share them. The states are complete
 * once `ready` says so: whoever needs them calls forwardOnce.
 */
export interface SharedWindow {
  readonly bytes: SharedArrayBuffer;
  /** h_t for t = 0 .. N-1, N×H float32. */
  readonly states: SharedArrayBuffer;
  readonly ready: SharedArrayBuffer;
  /**
   * A piece of a long window (segments.ts): the index in the window's sequence
   * (burn-in first) of `bytes[0]` and of the first row of `states` (0 when absent).
   */
  readonly origin?: number;
  /** The bytes and state rows in use (a reused segment buffer may be longer); all of `bytes` when absent. */
  readonly rows?: number;
  /** The state before `bytes[0]`, H float32 (h = 0 when absent: the sequence's start). */
  readonly initial?: SharedArrayBuffer;
}

const NOT_STARTED = 0;
const COMPUTING = 1;
const DONE = 2;
const FAILED = 3;

/** A window's flag: one Int32 in shared memory, NOT_STARTED. */
export function forwardFlag(): SharedArrayBuffer {
  return new SharedArrayBuffer(4);
}

/** Runs `compute` (filling the window's states) unless another thread did or does; then the states are complete. */
export function forwardOnce(flagBuffer: SharedArrayBuffer, compute: () => void): void {
  const flag = new Int32Array(flagBuffer);
  if (Atomics.compareExchange(flag, 0, NOT_STARTED, COMPUTING) === NOT_STARTED) {
    try {
      compute();
      Atomics.store(flag, 0, DONE);
    } catch (error) {
      Atomics.store(flag, 0, FAILED);
      throw error;
    } finally {
      Atomics.notify(flag, 0);
    }
    return;
  }
  while (Atomics.load(flag, 0) === COMPUTING) Atomics.wait(flag, 0, COMPUTING);
  if (Atomics.load(flag, 0) === FAILED) throw new Error('the forward pass of this window failed on another thread');
}
