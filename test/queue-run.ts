import assert from 'node:assert/strict';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Cli } from './cli-child.js';
import { WorkerHere } from './queue-worker.js';
import { TestRedis } from './redis.js';

/**
 * Computes a job through the queue, as a sweep over machines would: a
 * redis-server of its own, `serve` and one worker (one thread, in this process), their folders
 * in `folder`. Returns the database serve merged into, once serve has exited 0
 * and no segment is left behind.
 */
export async function computeThroughQueue(job: string, folder: string): Promise<string> {
  const redis = await TestRedis.start();
  const segments = join(folder, 'segments');
  mkdirSync(segments);
  const merged = join(folder, 'merged.sqlite');
  const serve = new Cli(['serve', job, '--queue', redis.url, '--segments', segments, '--db', merged, '--batch-cost', '120', '--poll-ms', '200']);
  // The worker in this process: what is tested is the queue's result, not a worker process.
  const worker = new WorkerHere({ url: redis.url, segments, workDir: join(folder, 'work'), lockSeconds: 2 });
  try {
    const { code } = await serve.exit(240);
    assert.equal(code, 0, serve.stderr);
    assert.deepEqual(readdirSync(segments), [], 'every segment merged');
    return merged;
  } finally {
    await Promise.all([serve.stop(), worker.stop()]);
    await redis.stop();
  }
}
