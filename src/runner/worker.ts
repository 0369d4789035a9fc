import {
  forwardKernel,
  modelFromFloats,
  modelFloatCount,
  patternPeaksInKernel,
  summarizeRangeInKernel,
  traceRange,
  traceTables,
  type ForwardKernel,
  type Model,
  type RuleName,
  type TraceInput,
  type TraceTables,
} from '../engine/index.js';
import { FREQUENCY_TAUS } from '../page.js';
import { packShardInto } from './codec.js';
import { forwardOnce, type SharedWindow } from './forwardOnce.js';
import { workerData } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { markLoaded } from './loaded.js';
import { threadCpuSeconds } from './threadCpu.js';

/**
 * A model's weights in a SharedArrayBuffer (wx, wh, bh, wy, by as in
 * modelFromFloats), shared with every task that needs it; `key` names it, so a
 * worker builds its model and trace tables once.
 */
export interface SharedModel {
  readonly key: string;
  readonly weights: SharedArrayBuffer;
  readonly hidden: number;
}

/** One shard: positions [start, start + count) of a window. */
export interface ShardTask extends SharedWindow {
  readonly model: SharedModel;
  /** Identifies the window's shared arrays, so a worker reuses its views. */
  readonly windowKey: string;
  readonly thresholds: Float32Array;
  readonly dmax: number;
  readonly rule: RuleName;
  /** The window's burn-in: `bytes` and `states` begin with it, and position t is t + burnIn of them. */
  readonly burnIn: number;
  /** Send every position's depth curve back, not only the summaries. */
  readonly depthCurves: boolean;
  readonly start: number;
  readonly count: number;
  /** Where to pack the result if it fits (resultSlots.ts); else, or without one, it goes in a new ArrayBuffer. */
  readonly resultSlot?: SharedArrayBuffer;
}

/** The forward pass of a window: fills `states` (N×H float32) from `bytes`. */
export interface ForwardTask extends SharedWindow {
  readonly model: SharedModel;
}

/** The τ of every shard's activation frequencies, as float32. */
const FREQUENCY_THRESHOLDS = Float32Array.from(FREQUENCY_TAUS);

const models = new Map<string, BuiltModel>();
let current: { key: string; input: TraceInput } | undefined;

/** The worker's Model of a shared model, and its forward kernel and trace tables once a task needed them. */
interface BuiltModel {
  readonly model: Model;
  forward?: ForwardKernel;
  tables?: TraceTables;
}

function modelOf({ key, weights, hidden }: SharedModel): BuiltModel {
  let built = models.get(key);
  if (built === undefined) {
    built = { model: modelFromFloats(new Float32Array(weights, 0, modelFloatCount(hidden)), hidden) };
    models.set(key, built);
  }
  return built;
}

function tablesOf(built: BuiltModel): TraceTables {
  built.tables ??= traceTables(built.model);
  return built.tables;
}

/**
 * Piscina's `name: 'forward'`: the window's forward pass, on a pool thread like
 * the shards that need it; then the model's trace tables, which this thread's
 * shards will need (the first forward pass of a run is started before the
 * store is opened, so they are built meanwhile).
 */
export function forward(task: ForwardTask): void {
  const built = modelOf(task.model);
  ensureStates(built, task);
  tablesOf(built);
}

/** The window's states: computed by its forward task, or by the first shard that needs them before it ran. */
function ensureStates(built: BuiltModel, window: SharedWindow): void {
  forwardOnce(window.ready, () => {
    built.forward ??= forwardKernel(built.model);
    const initial = window.initial === undefined ? undefined : new Float32Array(window.initial);
    new Float32Array(window.states).set(built.forward.states(new Uint8Array(window.bytes, 0, window.rows ?? window.bytes.byteLength), initial));
  });
}

/** A traced shard, packed (see codec.ts), and the CPU seconds this thread spent computing it. */
export interface TracedShard {
  /** The task's result slot, or a new ArrayBuffer when it had none or the shard did not fit. */
  readonly packed: ArrayBuffer | SharedArrayBuffer;
  /** The packed shard's bytes, from the start of `packed`. */
  readonly bytes: number;
  /** This thread's CPU time for the tracing, summaries and packing (not the forward pass, not queueing nor waiting). */
  readonly seconds: number;
}

/**
 * Traces a shard and summarizes it here, in the worker, so the writer only copies rows. Packed into
 * the task's result slot, which is shared, the TracedShard is posted as it is. Else returned as
 * piscina's movable, so its new buffer is transferred to the writer's thread, whose caller gets the
 * TracedShard itself: a plain object is posted as a structured clone, the buffer copied into new memory
 * there (about a tenth of that thread's time at 2 threads, with the collections the memory brought on).
 */
export default function traceShard(task: ShardTask): TracedShard {
  const traced = tracedShard(task);
  if (traced.packed instanceof SharedArrayBuffer) return traced;
  return move({ [transferableSymbol]: [traced.packed], [valueSymbol]: traced }) as unknown as TracedShard;
}

function tracedShard(task: ShardTask): TracedShard {
  const built = modelOf(task.model);
  const { model } = built;
  // Tables first: a thread whose window is still in its forward pass on another thread builds them meanwhile.
  const modelTables = tablesOf(built);
  ensureStates(built, task);
  const began = threadCpuSeconds();
  const key = `${task.model.key}:${task.windowKey}:${task.dmax}:${task.rule}:${task.burnIn}:${task.thresholds.join(',')}`;
  if (current?.key !== key) {
    const rows = task.rows ?? task.bytes.byteLength;
    const bytes = new Uint8Array(task.bytes, 0, rows);
    const input: TraceInput = { model, bytes, states: new Float32Array(task.states, 0, rows * model.hidden), thresholds: task.thresholds, dmax: task.dmax, rule: task.rule, burnIn: task.burnIn, origin: task.origin ?? 0, frequencyThresholds: FREQUENCY_THRESHOLDS };
    current = { key, input };
  }
  const range = traceRange(current.input, modelTables, task.start, task.count);
  const shard = { range, summary: summarizeRangeInKernel(modelTables, range, task.dmax), peaks: patternPeaksInKernel(modelTables, range.peakFactors) };
  const shape = {
    count: task.count,
    thresholds: task.thresholds.length,
    dmax: task.dmax,
    hidden: model.hidden,
    depthCurves: task.depthCurves,
    burnIn: task.burnIn,
    frequencies: FREQUENCY_THRESHOLDS.length,
  };
  const { packed, bytes } = packShardInto(shard, shape, task.resultSlot);
  return { packed, bytes, seconds: threadCpuSeconds() - began };
}

markLoaded(workerData);
