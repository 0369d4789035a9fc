import { availableParallelism } from 'node:os';
import { formatDuration } from '../duration.js';
import type { JobPlan } from '../plan/plan.js';
import { thousands } from './numbers.js';


/** 385 MB, 3.9 MB, 12 kB (decimal units, as disks are sold). */
export function formatBytes(bytes: number): string {
  if (bytes < 1e3) return `${Math.round(bytes)} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes / 1e3;
  let unit = 0;
  while (value >= 1e3 && unit < units.length - 1) {
    value /= 1e3;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

export function formatPlan(plan: JobPlan, format: 'text' | 'json', cores = availableParallelism()): string {
  if (format === 'json') return `${JSON.stringify(plan, null, 1)}\n`;
  const { runs, positions, disk, time } = plan;
  const lines = [
    `plan: job ${plan.name} into ${plan.database} (nothing written)`,
    `runs       ${thousands(runs.total)} (${thousands(runs.done)} done, ${thousands(runs.partial)} partly done, ${thousands(runs.total - runs.done)} to compute), ${plan.taus} τ each`,
    ...plan.byDmax.map((group) => `             Dmax ${group.dmax}: ${thousands(group.runs)} run${group.runs === 1 ? '' : 's'}, ${thousands(group.positions)} position${group.positions === 1 ? '' : 's'}`),
    `positions  ${thousands(positions.total)} (${thousands(positions.stored)} in the database, ${thousands(positions.toCompute)} to compute)`,
    `disk       ${formatBytes(disk.toWriteBytes)} to write, ${formatBytes(disk.jobBytes)} for the whole job (${thousands(disk.bytesPerPosition)} B/position, ` +
      (disk.source === 'database'
        ? `as measured on the database's finished runs: ${formatBytes(disk.databaseBytes)} now, ${disk.scale?.toFixed(2)}× the store's per-row model)`
        : `the store's per-row model; the database holds no finished run to measure)`),
  ];
  const { memory } = plan;
  lines.push(
    `memory     about ${formatBytes(memory.totalBytes)} on ${time.threads} thread${time.threads === 1 ? '' : 's'}, whatever the windows' length: ` +
      `${formatBytes(memory.perThreadBytes)} per thread, ${formatBytes(memory.orchestratorBytes)} for the main thread, ${formatBytes(memory.sharedBytes)} of shared window buffers ` +
      `(the largest ${formatBytes(memory.windowBytes)}: windows longer than ${thousands(memory.segmentSize)} positions go by segments of that many)`,
  );
  if (positions.toCompute === 0) {
    lines.push('time       nothing to compute: every run is done');
  } else {
    const engine = time.engine;
    lines.push(
      `time       about ${formatDuration(time.seconds)} on ${time.threads} thread${time.threads === 1 ? '' : 's'}, getting about ${time.cores.toFixed(1)} of this machine's ${cores} cores` +
        (time.cores < 0.95 * Math.min(time.threads, cores) ? ' (it is shared: other processes use the rest now; the estimate assumes they keep doing so)' : ''),
      `           (engine measured here on the job's model: ${engine ? `${(engine.base * 1e3).toFixed(2)} ms/position + ${(engine.perDepth * 1e6).toFixed(1)} µs per offset, ${(engine.perByte * 1e6).toFixed(1)} µs per byte of burn-in` : '-'}, ` +
        `${formatDuration(time.computeSeconds)} of CPU, and ${formatDuration(time.overheadSeconds)} for the runner around it; writes ${time.writeSecondsPerMB === null ? '-' : `${time.writeSecondsPerMB.toFixed(3)} s/MB`}, ${formatDuration(time.writeSeconds)} of CPU)`,
    );
  }
  return `${lines.join('\n')}\n`;
}
