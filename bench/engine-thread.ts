/**
 * A worker of `npm run bench:store`'s control: traces the positions it is given
 * with the engine alone (no store), warm, after a start signal, so that 1 and 2
 * such threads show how far two threads can go on this machine at all.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
import { forwardStates, traceRange, traceTables } from '../src/engine/index.js';
import { parseModel } from '../src/model/format.js';
import { FREQUENCY_TAUS } from '../src/page.js';

interface EngineThreadData {
  readonly modelPath: string;
  readonly dataPath: string;
  readonly thresholds: readonly number[];
  readonly dmax: number;
  readonly windows: number;
  /** Int32Array over a SharedArrayBuffer: [0] becomes 1 when every thread is warm and may start. */
  readonly start: SharedArrayBuffer;
}

const data = workerData as EngineThreadData;
const model = parseModel(new Uint8Array(readFileSync(data.modelPath)), data.modelPath);
const tables = traceTables(model);
const text = readFileSync(data.dataPath);
const inputs = Array.from({ length: data.windows }, (_, k) => {
  const bytes = new Uint8Array(text.subarray(k * 8192, k * 8192 + 1024));
  return { model, bytes, states: forwardStates(model, bytes), thresholds: Float32Array.from(data.thresholds), dmax: data.dmax, rule: 'q1' as const, frequencyThresholds: Float32Array.from(FREQUENCY_TAUS) };
});
traceRange(inputs[0], tables, 0, 256); // warm
parentPort!.postMessage('warm');
Atomics.wait(new Int32Array(data.start), 0, 0);
const started = performance.now();
let positions = 0;
for (const input of inputs) {
  const range = traceRange(input, tables, 0, input.bytes.length - 1);
  positions += range.count;
}
parentPort!.postMessage({ positions, seconds: (performance.now() - started) / 1000 });
