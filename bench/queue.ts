/**
 * `npm run bench:queue`: throughput of serve + local workers against one `run`
 * process with the same total threads, on a sweep of ≥ 100 runs; and the merge
 * rate (positions per second that mergeSegment copies into a coordinator's
 * database). Measurements are interleaved (run, queue, run, queue, …) and the
 * medians compared, since the machine may be shared and noisy.
 *
 *   node dist/bench/queue.js [--pairs 3] [--workers 3] [--threads-per-worker 1] [--batches 24]
 *
 * Needs redis-server (a private one is started on 127.0.0.1 for each queue measurement).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { expandJob, loadJobFile } from '../src/job/index.js';
import { runCost } from '../src/queue/batches.js';
import { mergeSegment, openDatabase } from '../src/store/index.js';
import { TestRedis } from '../test/redis.js';

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  return index < 0 ? fallback : Number(process.argv[index + 1]);
}
const pairs = option('pairs', 3);
const workers = option('workers', 3);
const threadsPerWorker = option('threads-per-worker', 1);
const batchesWanted = option('batches', 24);
const totalThreads = workers * threadsPerWorker;

const root = process.cwd();
const bin = join(root, 'bin', 'sparsetrace.js');
const work = mkdtempSync(join(tmpdir(), 'sparsetrace-bench-queue-'));
const jobPath = join(work, 'bench-queue.json');
// 52 windows of 512 bytes, every 4 KiB of lib.es5.d.ts, × Dmax 20 and 50, 17 τ: 104 runs.
writeFileSync(
  jobPath,
  JSON.stringify({
    name: 'bench-queue',
    models: [resolve(root, '..', 'shared', 'inputs', 'sat_model.bin')],
    data: [{ path: resolve(root, 'node_modules', 'typescript', 'lib', 'lib.es5.d.ts'), length: 512, stride: 4096, count: 'all' }],
    dmax: [20, 50],
    tau: { from: 1e-4, to: 1, perDecade: 4 },
  }),
);
const job = expandJob(loadJobFile(jobPath), () => undefined);
const positions = job.runs.reduce((sum, run) => sum + run.positions, 0);
const batchCost = Math.ceil(job.runs.reduce((sum, run) => sum + runCost(run), 0) / batchesWanted);

function spawnCli(args: string[]): { exited: Promise<number | null>; stderr: () => string; kill: (signal: NodeJS.Signals) => void } {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return { exited: new Promise((done) => child.once('exit', (code) => done(code))), stderr: () => stderr, kill: (signal) => child.kill(signal) };
}

async function single(k: number): Promise<{ seconds: number; db: string }> {
  const db = join(work, `single-${k}.sqlite`);
  const started = performance.now();
  const run = spawnCli(['run', jobPath, '--db', db, '--threads', String(totalThreads), '--no-report']);
  if ((await run.exited) !== 0) throw new Error(`run failed:\n${run.stderr()}`);
  return { seconds: (performance.now() - started) / 1000, db };
}

async function queued(k: number): Promise<{ seconds: number; mergeRate: number }> {
  const redis = await TestRedis.start();
  const segments = join(work, `segments-${k}`);
  mkdirSync(segments);
  const db = join(work, `queue-${k}.sqlite`);
  try {
    const started = performance.now();
    const serve = spawnCli(['serve', jobPath, '--queue', redis.url, '--segments', segments, '--db', db, '--batch-cost', String(batchCost), '--poll-ms', '250']);
    const pool = Array.from({ length: workers }, (_, w) =>
      spawnCli(['worker', '--queue', redis.url, '--segments', segments, '--work-dir', join(work, `work-${k}-${w}`), '--threads', String(threadsPerWorker)]),
    );
    const code = await serve.exited;
    const seconds = (performance.now() - started) / 1000;
    for (const worker of pool) worker.kill('SIGTERM');
    await Promise.all(pool.map((worker) => worker.exited));
    if (code !== 0) throw new Error(`serve failed:\n${serve.stderr()}`);
    const rate = /\((\d+) positions\/s\)/.exec(serve.stderr());
    return { seconds, mergeRate: rate === null ? NaN : Number(rate[1]) };
  } finally {
    await redis.stop();
    rmSync(db, { force: true });
  }
}

/** Merging a whole sweep's database into an empty one: the coordinator's cost per position. */
function mergeRate(segment: string): { rate: number; cpuRate: number; bytesPerPosition: number } {
  const target = join(work, `merge-target-${Date.now()}.sqlite`);
  const db = openDatabase(target);
  try {
    const started = performance.now();
    const cpu = process.cpuUsage();
    const result = mergeSegment(db, segment);
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    db.pragma('wal_checkpoint(TRUNCATE)');
    return { rate: result.positions / seconds, cpuRate: result.positions / ((used.user + used.system) / 1e6), bytesPerPosition: statSync(target).size / result.positions };
  } finally {
    db.close();
    rmSync(target, { force: true });
  }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

console.log(`sweep: ${job.runs.length} runs, ${positions} positions; ${totalThreads} threads: run --threads ${totalThreads} vs ${workers} workers × ${threadsPerWorker} (batches of ${batchCost} position-steps, ~${batchesWanted} batches)`);
const singles: number[] = [];
const queues: number[] = [];
const inQueueMergeRates: number[] = [];
const mergeRates: number[] = [];
const mergeCpuRates: number[] = [];
try {
  for (let k = 0; k < pairs; k++) {
    const one = await single(k);
    singles.push(one.seconds);
    const merge = mergeRate(one.db);
    mergeRates.push(merge.rate);
    mergeCpuRates.push(merge.cpuRate);
    rmSync(one.db, { force: true });
    const many = await queued(k);
    queues.push(many.seconds);
    inQueueMergeRates.push(many.mergeRate);
    console.log(
      `pair ${k + 1}: run ${one.seconds.toFixed(1)} s (${Math.round(positions / one.seconds)} positions/s), queue ${many.seconds.toFixed(1)} s (${Math.round(positions / many.seconds)} positions/s); ` +
        `merge ${Math.round(merge.rate)} positions/s (${Math.round(merge.cpuRate)} per CPU-second; ${Math.round(merge.bytesPerPosition)} B/position), during serve ${many.mergeRate} positions/s`,
    );
  }
  const ratio = median(singles) / median(queues);
  console.log(`median: run ${median(singles).toFixed(1)} s, queue ${median(queues).toFixed(1)} s: queue throughput = ${(100 * ratio).toFixed(1)} % of one run process`);
  console.log(
  `merge rate (median): ${Math.round(median(mergeRates))} positions/s wall, ${Math.round(median(mergeCpuRates))} positions per CPU-second, merging a whole sweep; ` +
    `${Math.round(median(inQueueMergeRates))} positions/s wall during serve`,
);
} finally {
  rmSync(work, { recursive: true, force: true });
}
