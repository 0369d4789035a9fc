import { move, workerData } from 'piscina';
import {
  forwardStates,
  modelFromFloats,
  modelFloatCount,
  patternPeaks,
  summarizeRange,
  traceRange,
  traceTables,
  type Model,
  type TraceInput,
  type TraceTables,
} from '../engine/index.js';
import { packShard } from './codec.js';

/** Handed to every worker when the pool starts: each model's weights in a SharedArrayBuffer. */
export interface PoolData {
  readonly models: readonly { readonly weights: SharedArrayBuffer; readonly hidden: number }[];
}

/**
 * One shard: positions [start, start + count) of a window. The window's bytes
 * and forward states are SharedArrayBuffers too (shared, never copied).
 */
export interface ShardTask {
  readonly modelIndex: number;
  /** Identifies the window's shared arrays, so a worker reuses its views. */
  readonly windowKey: string;
  readonly bytes: SharedArrayBuffer;
  readonly states: SharedArrayBuffer;
  readonly thresholds: Float32Array;
  readonly dmax: number;
  /** Send every position's depth curve back, not only the summaries. */
  readonly depthCurves: boolean;
  readonly start: number;
  readonly count: number;
}

/** The forward pass of a window: fills `states` (N×H float32) from `bytes`. */
export interface ForwardTask {
  readonly modelIndex: number;
  readonly bytes: SharedArrayBuffer;
  readonly states: SharedArrayBuffer;
}

const { models: sharedModels } = workerData as PoolData;
const models: (Model | undefined)[] = [];
const tables: (TraceTables | undefined)[] = [];
let current: { key: string; input: TraceInput } | undefined;

function modelAt(index: number): { model: Model; tables: TraceTables } {
  let model = models[index];
  if (model === undefined) {
    const { weights, hidden } = sharedModels[index];
    model = modelFromFloats(new Float32Array(weights, 0, modelFloatCount(hidden)), hidden);
    models[index] = model;
  }
  let modelTables = tables[index];
  if (modelTables === undefined) {
    modelTables = traceTables(model);
    tables[index] = modelTables;
  }
  return { model, tables: modelTables };
}

/** Piscina's `name: 'forward'`: the window's forward pass, on a pool thread like the shards that need it. */
export function forward(task: ForwardTask): void {
  const { model } = modelAt(task.modelIndex);
  new Float32Array(task.states).set(forwardStates(model, new Uint8Array(task.bytes)));
}

/** Traces a shard and summarizes it here, in the worker, so the writer only copies rows. */
export default function traceShard(task: ShardTask): ArrayBuffer {
  const { model, tables: modelTables } = modelAt(task.modelIndex);
  const key = `${task.modelIndex}:${task.windowKey}:${task.dmax}:${task.thresholds.join(',')}`;
  if (current?.key !== key) {
    const bytes = new Uint8Array(task.bytes);
    const input: TraceInput = { model, bytes, states: new Float32Array(task.states), thresholds: task.thresholds, dmax: task.dmax };
    current = { key, input };
  }
  const range = traceRange(current.input, modelTables, task.start, task.count);
  const shard = { range, summary: summarizeRange(range, task.dmax), peaks: patternPeaks(model, range.peakFactors) };
  const packed = packShard(shard, {
    count: task.count,
    thresholds: task.thresholds.length,
    dmax: task.dmax,
    hidden: model.hidden,
    depthCurves: task.depthCurves,
  });
  return move(packed) as ArrayBuffer;
}
