/**
 * Which pool threads have loaded the worker module. Node 20 aborts the whole
 * process ("FATAL ERROR: v8::Module::IsGraphAsync …") when a thread is
 * terminated while it instantiates an ES module, which piscina's threads do
 * first thing; so a pool destroyed early (a run that fails on bad input a few
 * milliseconds in) first waits for its threads to load. One counter in shared
 * memory, raised by each thread once its module has run.
 */
export interface LoadedCounter {
  readonly loaded: Int32Array;
}

export function loadedCounter(): LoadedCounter {
  return { loaded: new Int32Array(new SharedArrayBuffer(4)) };
}

/**
 * In a pool thread, at the end of the worker module: this thread is loaded, once
 * the loading returns (a microtask later). piscina loads the module with
 * require(), whose last step after the module ran (its CommonJS facade) is
 * just as fatal to interrupt.
 */
export function markLoaded(workerData: unknown): void {
  const loaded = (workerData as Partial<LoadedCounter> | null | undefined)?.loaded;
  if (!(loaded instanceof Int32Array)) return; // a thread not started by ShardPool (tests)
  queueMicrotask(() => Atomics.add(loaded, 0, 1));
}

/**
 * Resolves once `threads` threads are loaded, or after `timeoutMs` (a thread
 * that died never will be). Polls on a timer: Atomics.waitAsync would not keep
 * Node's event loop alive, and piscina's threads do not either.
 */
export async function allLoaded({ loaded }: LoadedCounter, threads: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (Atomics.load(loaded, 0) < threads && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, LOAD_POLL_MS));
  }
}

const LOAD_POLL_MS = 2;
