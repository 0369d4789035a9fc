import { cpuSeconds } from '../cpu.js';
import { DEFAULT_RULE, forwardStates, traceRange, traceTables, type Model } from '../engine/index.js';

/**
 * Cost of the engine on this machine, measured on the real model in CPU
 * seconds (so other processes on a shared machine do not inflate it): a
 * position traced to depth k costs about `base + perDepth·k` CPU seconds (the
 * output distribution, gradient and counting, then one H² chain step per offset).
 */
export interface EngineCost {
  readonly base: number;
  readonly perDepth: number;
  /** CPU seconds of the forward pass per byte read (what a warm window's burn-in costs per byte). */
  readonly perByte: number;
  /** Wall-clock seconds the calibration took. */
  readonly seconds: number;
  /** CPU seconds per wall-clock second this process got while measuring (1 on an idle core; less when the machine is shared). */
  readonly cpuShare: number;
}

/** CPU seconds per position at depth `dmax` for every position of `sample` from dmax on, repeated until `minSeconds` of CPU have passed. */
function timeTrace(model: Model, sample: Uint8Array, states: Float32Array, thresholds: Float32Array, dmax: number, minSeconds: number): number {
  const tables = traceTables(model);
  // Every rule costs the same (one Wx factor per neuron and offset): timed with the spec's.
  const input = { model, bytes: sample, states, thresholds, dmax, rule: DEFAULT_RULE };
  const start = Math.min(dmax, sample.length - 2);
  const count = sample.length - 1 - start;
  traceRange(input, tables, start, Math.min(count, 4)); // warm-up (JIT, WebAssembly)
  let positions = 0;
  const began = cpuSeconds();
  let elapsed = 0;
  do {
    traceRange(input, tables, start, count);
    positions += count;
    elapsed = cpuSeconds() - began;
  } while (elapsed < minSeconds);
  return elapsed / positions;
}

/**
 * Measures `base` (depth 0) and `perDepth` (at the job's deepest Dmax, on
 * positions deep enough to reach it) on `bytes`, a window of the job.
 */
export function calibrateEngine(model: Model, bytes: Uint8Array, thresholds: readonly number[], dmax: number, minSeconds = 0.4): EngineCost {
  const began = performance.now();
  const beganCpu = cpuSeconds();
  const depth = Math.max(1, Math.min(dmax, bytes.length - 3));
  const sample = bytes.subarray(0, Math.min(bytes.length, depth + 1 + 96));
  const states = forwardStates(model, sample);
  const taus = Float32Array.from(thresholds);
  const base = timeTrace(model, sample, states, taus, 0, minSeconds / 2);
  const deep = timeTrace(model, sample, states, taus, depth, minSeconds);
  const perByte = timeForward(model, bytes.subarray(0, Math.min(bytes.length, 4096)), minSeconds / 8);
  const seconds = (performance.now() - began) / 1000;
  return { base, perDepth: Math.max(0, (deep - base) / depth), perByte, seconds, cpuShare: Math.min(1, (cpuSeconds() - beganCpu) / seconds) };
}

/** CPU seconds per byte of the forward pass over `sample`, repeated until `minSeconds` of CPU have passed. */
function timeForward(model: Model, sample: Uint8Array, minSeconds: number): number {
  forwardStates(model, sample.subarray(0, Math.min(sample.length, 64))); // warm-up
  let bytes = 0;
  const began = cpuSeconds();
  let elapsed = 0;
  do {
    forwardStates(model, sample);
    bytes += sample.length;
    elapsed = cpuSeconds() - began;
  } while (elapsed < minSeconds);
  return elapsed / bytes;
}

/** Σ_{t=0}^{positions-1} min(t, dmax): the chain steps of a run. */
export function chainSteps(positions: number, dmax: number): number {
  const full = Math.max(0, positions - dmax - 1); // positions t > dmax
  const ramp = Math.min(positions, dmax + 1); // t = 0 .. min(dmax, positions-1)
  return (ramp * (ramp - 1)) / 2 + full * dmax;
}
