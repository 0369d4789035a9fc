import { readFileSync } from 'node:fs';
import { parseModel } from './dist/src/model/format.js';
import { calibrateEngine } from './dist/src/plan/calibrate.js';
const model = parseModel(readFileSync('inputs/sat_model.bin'), 'm');
const bytes = new Uint8Array(readFileSync('inputs/enwik_1024.txt')).subarray(0, 512);
for (const d of [20, 50]) console.log(d, calibrateEngine(model, bytes, Array.from({length:17},(_,k)=>10**(-4+k/4)), d));
