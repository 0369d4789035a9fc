import assert from 'node:assert/strict';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Cli } from './cli-child.js';
import { TestRedis } from './redis.js';

/**
 * Computes a job through the queue, as a sweep over machines would: a
 * redis-server of its own, `serve` and one worker (one thread), their folders
 * in `folder`. Returns the database serve merged into, once serve has exited 0
 * and no segment is left behind.
 */
export async function computeThroughQueue(job: string, folder: string): Promise<string> {
  const redis = await TestRedis.start();
  const segments = join(folder, 'segments');
  mkdirSync(segments);
  const merged = join(folder, 'merged.sqlite');
  const serve = new Cli(['serve', job, '--queue', redis.url, '--segments', segments, '--db', merged, '--batch-cost', '120', '--poll-ms', '200']);
  const worker = new Cli(['worker', '--queue', redis.url, '--segments', segments, '--work-dir', join(folder, 'work'), '--threads', '1', '--lock-seconds', '2']);
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
