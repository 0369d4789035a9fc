import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** A benchmark figure over rounds: the median (element ⌊(n−1)/2⌋ of the sorted values) and the spread. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

export function spread(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: sorted[Math.floor((sorted.length - 1) / 2)], min: sorted[0], max: sorted[sorted.length - 1] };
}

/** The kernel's clock ticks per second, the unit of /proc's CPU times. */
export const clockTicks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

/** User + system seconds of the children this process has waited for (Linux /proc/self/stat: cutime, cstime), or NaN elsewhere. */
export function childrenCpuSeconds(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); cutime and cstime are fields 16 and 17.
    return (Number(fields[13]) + Number(fields[14])) / clockTicks;
  } catch {
    return NaN;
  }
}
