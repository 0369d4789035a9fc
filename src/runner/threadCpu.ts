import { readFileSync } from 'node:fs';

/**
 * The calling thread's CPU time in seconds, from Linux's /proc/thread-self/schedstat
 * (nanoseconds on a CPU, per thread: Node 20 has no per-thread CPU clock). Where
 * that file cannot be read, the thread's elapsed time stands in for it: a worker
 * runs one task at a time, so that is its busy time (CPU time plus any preemption).
 */
let readable = true;

export function threadCpuSeconds(): number {
  if (readable) {
    try {
      const onCpuNs = Number(readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ', 1)[0]);
      if (Number.isFinite(onCpuNs)) return onCpuNs / 1e9;
    } catch {
      // not Linux, or /proc not mounted
    }
    readable = false;
  }
  return performance.now() / 1000;
}
