import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { Queue } from 'bullmq';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelCache } from '../src/queue/models.js';
import { redactSecrets } from '../src/redact.js';
import { Cli } from './cli-child.js';
import { cliHere, SHARED_DATA, SHARED_MODEL, temporaryFolder } from './cli.js';
import { redisAvailable, TestRedis } from './redis.js';

/**
 * The queue across machines that do not trust each other blindly: messages
 * that would be paths, passwords in output, checks at start, signals during a
 * Redis outage. Real redis-servers on 127.0.0.1, stopped by pid; every wait bounded.
 */
const available = redisAvailable();
if (!available && process.env.SPARSETRACE_REQUIRE_REDIS === '1') throw new Error('redis-server is not installed (apt-get install -y redis-server)');
const skip = available ? false : 'redis-server is not installed (.ci/run installs it)';

const folder = temporaryFolder('queue-trust');
after(() => folder.remove());

/** 4 windows at Dmax 9 = 4 runs of 59 positions; batches of 2 runs. */
const jobPath = join(folder.path, 'trust-job.json');
writeFileSync(jobPath, JSON.stringify({ name: 'trust-test', models: [SHARED_MODEL], data: [{ path: SHARED_DATA, length: 60, stride: 100, count: 4 }], dmax: [9], tau: [0.01, 0.1] }));
const BATCH_COST = 700;

/** No REDIS_URL from the environment the tests run in. */
const CLEAN_ENV = { REDIS_URL: undefined };

/** Whether a closed database is out of WAL mode (byte 18 of its header is 1) with no -wal beside it: readable from read-only media. */
function outOfWalMode(path: string): boolean {
  const header = readFileSync(path).subarray(0, 20);
  return header[18] === 1 && !existsSync(`${path}-wal`);
}

const fileState = (path: string): string => `${createHash('sha256').update(readFileSync(path)).digest('hex')} ${statSync(path).mtimeMs}`;

describe('redaction of secrets', () => {
  test('URLs with credentials and password-like flags are masked; usernames and file flags are kept', () => {
    assert.equal(redactSecrets('at redis://:s3cret@10.0.0.5:6380/2'), 'at redis://:***@10.0.0.5:6380/2');
    assert.equal(redactSecrets('redis://bob:pa%40ss@h:1'), 'redis://bob:***@h:1');
    assert.equal(redactSecrets('rediss://token123@h'), 'rediss://***@h');
    assert.equal(redactSecrets('sparsetrace worker --password hunter2 --redis-token=abc --queue-password-file /etc/pw'), 'sparsetrace worker --password *** --redis-token=*** --queue-password-file /etc/pw');
    assert.equal(redactSecrets('redis://127.0.0.1:6379'), 'redis://127.0.0.1:6379');
  });
});

describe("a worker's models", () => {
  test('a model file corrected on disk is read and hashed again, an unchanged one is not', () => {
    const path = join(folder.path, 'model-copy.bin');
    const good = readFileSync(SHARED_MODEL);
    const damaged = Buffer.from(good);
    damaged[damaged.length - 8]! ^= 1; // the lowest bit of a weight: a model still, another one
    const models = new ModelCache();
    writeFileSync(path, damaged);
    const first = models.get(path);
    assert.equal(models.get(path), first, 'unchanged: the same load');
    copyFileSync(SHARED_MODEL, path);
    // Same size; the modification time is what tells (set apart explicitly: a coarse clock may not).
    const later = new Date(statSync(path).mtimeMs + 10_000);
    utimesSync(path, later, later);
    const corrected = models.get(path);
    assert.notEqual(corrected.sha256, first.sha256);
    assert.equal(corrected.sha256, createHash('sha256').update(good).digest('hex'));
  });
});

describe('the queue across machines: trust', { skip }, () => {
  test('batches whose id or fields would be paths are refused and touch no file', async () => {
    const redis = await TestRedis.start();
    const base = join(folder.path, 'crafted');
    const segments = join(base, 'segments');
    const work = join(base, 'work', 'w');
    mkdirSync(segments, { recursive: true });
    mkdirSync(work, { recursive: true });
    // Someone's database beside the worker's folders: ../../victim from the work folder.
    const victim = join(base, 'victim.sqlite');
    const other = new Database(victim);
    other.exec('CREATE TABLE precious (x); INSERT INTO precious VALUES (42)');
    other.close();
    const before = fileState(victim);
    const queue = new Queue('sparsetrace', { connection: { host: '127.0.0.1', port: redis.port } });
    const worker = new Cli(['worker', '--queue', redis.url, '--segments', segments, '--work-dir', work, '--threads', '1', '--lock-seconds', '2'], CLEAN_ENV);
    try {
      const hex = 'a'.repeat(64);
      const run = {
        runId: 'a'.repeat(16),
        model: { sha256: hex, path: '../../etc/passwd', hidden: 128, significant: { wx: 1, wh: 1, wy: 1, total: 3 } },
        data: { path: SHARED_DATA, offset: 0, length: 60, sha256: hex },
        dmax: 9, gate: 1, taus: [0.1], positions: 59, depthCurves: false,
      };
      const format = 'sparsetrace-batch/2';
      const job = 'c'.repeat(64);
      await queue.add('batch', { format, job, runs: [] }, { jobId: '../../victim', attempts: 1 });
      await queue.add('batch', { format, job, runs: [run] }, { jobId: 'b-relative-model', attempts: 1 });
      // A batch of an older coordinator (no job to stamp its segment with), and one whose job is not a sha256.
      await queue.add('batch', { format: 'sparsetrace-batch/1', runs: [run] }, { jobId: 'b-old-format', attempts: 1 });
      await queue.add('batch', { format, job: '../x', runs: [run] }, { jobId: 'b-bad-job', attempts: 1 });
      await queue.add('batch', { format, job, runs: [{ ...run, model: { ...run.model, path: SHARED_MODEL }, data: { ...run.data, path: '/tmp/../etc/x' } }] }, { jobId: 'b-dotdot-data', attempts: 1 });
      await worker.waitFor(/b-dotdot-data: failed/, 60);
      assert.match(worker.stderr, /batch b-old-format: failed: batch b-old-format: refused: unknown format "sparsetrace-batch\/1", expected sparsetrace-batch\/2 \(written by another sparsetrace version/);
      assert.match(worker.stderr, /batch b-bad-job: failed: batch b-bad-job: refused: "job" "\.\.\/x" is not a job's sha256 in hex/);
      assert.match(worker.stderr, /failed: refused a batch whose id "\.\.\/\.\.\/victim" is not a plain name/);
      assert.match(worker.stderr, /batch b-relative-model: failed: batch b-relative-model: refused: runs\[0\]\.model\.path "\.\.\/\.\.\/etc\/passwd" is not an absolute path/);
      assert.match(worker.stderr, /batch b-dotdot-data: failed: .*runs\[0\]\.data\.path "\/tmp\/\.\.\/etc\/x" is not a plain path/);
      // Failed for good, with the reason, in the queue.
      for (const [id, reason] of [['../../victim', /not a plain name/], ['b-relative-model', /not an absolute path/], ['b-dotdot-data', /not a plain path/]] as const) {
        const job = await queue.getJob(id);
        assert.equal(await job?.getState(), 'failed', id);
        assert.match(job?.failedReason ?? '', reason);
      }
      assert.equal(fileState(victim), before, 'the victim is untouched');
      assert.deepEqual(readdirSync(base).sort(), ['segments', 'victim.sqlite', 'work']);
      assert.deepEqual(readdirSync(segments), []);
      assert.deepEqual(readdirSync(work), []);
      worker.kill('SIGTERM');
      assert.equal((await worker.exit(15)).code, 143, worker.stderr);
    } finally {
      await worker.stop();
      await queue.close();
      await redis.stop();
    }
  });

  test('a password in the URL, in REDIS_URL or in a file is in no output and not in writer_lock.command', async () => {
    const secret = 'pw-S3cret-42';
    const redis = await TestRedis.start({ password: secret });
    const segments = join(folder.path, 'secret-segments');
    mkdirSync(segments);
    const db = join(folder.path, 'secret.sqlite');
    const passwordFile = join(folder.path, 'redis-password');
    writeFileSync(passwordFile, `${secret}\n`);
    const withPassword = `redis://:${secret}@127.0.0.1:${redis.port}`;
    const serve = new Cli(['serve', jobPath, '--queue', withPassword, '--segments', segments, '--db', db, '--batch-cost', String(BATCH_COST), '--poll-ms', '200'], CLEAN_ENV);
    const processes = [serve];
    try {
      await serve.waitFor(/^enqueued /m, 60);
      const lock = new Database(db, { readonly: true });
      const command = (lock.prepare('SELECT command FROM writer_lock').get() as { command: string }).command;
      lock.close();
      assert.ok(!command.includes(secret), command);
      assert.match(command, /--queue redis:\/\/:\*\*\*@127\.0\.0\.1:\d+/);
      // A second writer is refused with the holder's command: masked too.
      const refused = await cliHere(['sql', '--write', '--db', db, 'SELECT 1']);
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(refused.stderr, /redis:\/\/:\*\*\*@/);
      assert.ok(!refused.stderr.includes(secret));
      const segmentArgs = ['--segments', segments, '--threads', '1', '--shard-size', '20', '--lock-seconds', '2'];
      processes.push(new Cli(['worker', ...segmentArgs, '--work-dir', join(folder.path, 'secret-w1')], { REDIS_URL: withPassword }));
      processes.push(new Cli(['worker', '--queue', redis.url, '--queue-password-file', passwordFile, ...segmentArgs, '--work-dir', join(folder.path, 'secret-w2')], CLEAN_ENV));
      const { code } = await serve.exit(180);
      assert.equal(code, 0, serve.stderr);
      assert.match(serve.stderr, /all 4 runs done/);
      assert.match(serve.stderr, /note: the Redis password is on the command line/);
      for (const worker of processes.slice(1)) {
        await worker.waitFor(/taking batches from queue sparsetrace at redis:\/\/(:\*\*\*@)?127\.0\.0\.1/, 10);
      }
      for (const child of processes) {
        await child.stop();
        assert.ok(!child.stderr.includes(secret) && !child.stdout.includes(secret), child.stderr);
      }
    } finally {
      await Promise.all(processes.map((child) => child.stop()));
      await redis.stop();
    }
  });

  test('a worker checks Redis and its folders at start: one precise line each, exit 1 or 2', async () => {
    const redis = await TestRedis.start({ password: 'right-password' });
    const segments = join(folder.path, 'check-segments');
    mkdirSync(segments);
    try {
      const worker = (queue: string, extra: string[] = [], dir = segments) => cliHere(['worker', '--queue', queue, '--segments', dir, '--work-dir', join(folder.path, 'check-work'), ...extra]);
      const missing = await worker(redis.url);
      assert.equal(missing.code, 1, missing.stderr);
      assert.equal(missing.stderr.trim().split('\n').length, 1, missing.stderr);
      assert.match(missing.stderr, new RegExp(`Redis at 127\\.0\\.0\\.1:${redis.port} requires a password and none was given; .*--queue-password-file`));
      const wrong = await worker(`redis://:wrong-password@127.0.0.1:${redis.port}`);
      assert.equal(wrong.code, 1, wrong.stderr);
      assert.match(wrong.stderr, new RegExp(`Redis at 127\\.0\\.0\\.1:${redis.port} refused the password given in the --queue URL \\(WRONGPASS\\)`));
      assert.ok(!wrong.stderr.includes('wrong-password'));
      const outOfRange = await worker(`redis://:right-password@127.0.0.1:${redis.port}/99999`);
      assert.equal(outOfRange.code, 2, outOfRange.stderr);
      assert.match(outOfRange.stderr, /--queue redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/99999: Redis at 127\.0\.0\.1:\d+ has no database 99999 \(it has 16: 0 to 15\)/);
      const malformed = await worker('redis://127.0.0.1:99999999');
      assert.equal(malformed.code, 2, malformed.stderr);
      // A folder this user cannot write (root writes everywhere but in /sys).
      let readOnly = '/sys/fs';
      if (process.getuid?.() !== 0) {
        readOnly = join(folder.path, 'read-only');
        mkdirSync(readOnly, { mode: 0o555 });
      }
      const unwritable = await worker(`redis://:right-password@127.0.0.1:${redis.port}`, [], readOnly);
      assert.equal(unwritable.code, 1, unwritable.stderr);
      assert.match(unwritable.stderr, new RegExp(`--segments ${readOnly}: cannot write there: .*\\(EACCES\\)`));
      const noQueue = await cliHere(['worker', '--segments', segments]);
      assert.equal(noQueue.code, 2, noQueue.stderr);
      assert.match(noQueue.stderr, /no queue: give --queue redis:\/\/HOST:PORT, or set REDIS_URL/);
    } finally {
      await redis.stop();
    }
  });

  test('SIGTERM during a Redis outage: worker and serve exit within 10 s; SIGHUP: 129, a message, the batch let go', async () => {
    const redis = await TestRedis.start();
    const segments = join(folder.path, 'signal-segments');
    const outageSegments = join(folder.path, 'signal-outage-segments');
    mkdirSync(segments);
    mkdirSync(outageSegments);
    const db = join(folder.path, 'signal.sqlite');
    // A database and a folder per phase: the second serve must have both batches to do, one left waiting.
    const outageDb = join(folder.path, 'signal-outage.sqlite');
    const serveArgs = (database: string, dir: string) => ['serve', jobPath, '--queue', redis.url, '--segments', dir, '--db', database, '--batch-cost', String(BATCH_COST), '--poll-ms', '200'];
    const workerArgs = (dir: string) => ['worker', '--queue', redis.url, '--segments', dir, '--threads', '1', '--shard-size', '20', '--lock-seconds', '60'];
    const processes: Cli[] = [];
    const start = (args: string[], env: Record<string, string | undefined> = {}): Cli => {
      const child = new Cli(args, { ...CLEAN_ENV, ...env });
      processes.push(child);
      return child;
    };
    const timed = async (child: Cli, signal: NodeJS.Signals): Promise<{ code: number | null; seconds: number }> => {
      const sent = performance.now();
      child.kill(signal);
      const { code } = await child.exit(30);
      return { code, seconds: (performance.now() - sent) / 1000 };
    };
    try {
      // SIGHUP mid-batch, Redis up: 129, a message, its own work folder gone.
      let serve = start(serveArgs(db, segments));
      await serve.waitFor(/^enqueued /m, 60);
      const hungUp = start(workerArgs(segments), { SPARSETRACE_TEST_HOLD: 'mid-batch', SPARSETRACE_TEST_HOLD_MS: '1000' });
      await hungUp.waitFor(/holding in batch/, 60);
      const hup = await timed(hungUp, 'SIGHUP');
      assert.equal(hup.code, 129, hungUp.stderr);
      assert.match(hungUp.stderr, /SIGHUP: stopping; a batch in progress goes back to the queue/);
      assert.match(hungUp.stderr, /batch b[0-9a-f]+: (abandoned at \d+ of \d+ runs; back in the queue|\d+ runs, \d+ positions in [\d.]+ s; segment )/);
      assert.ok(!existsSync(join(tmpdir(), `sparsetrace-worker-${hungUp.pid}`)), 'its work folder is removed');
      const serveHup = await timed(serve, 'SIGHUP');
      assert.equal(serveHup.code, 129, serve.stderr);
      assert.match(serve.stderr, /SIGHUP: stopping; the database keeps every merged batch/);
      assert.ok(outOfWalMode(db), 'serve stopped by SIGHUP leaves its database out of WAL mode');

      // Redis killed (by pid) while a worker computes a batch and serve waits: SIGTERM ends both within 10 s.
      serve = start(serveArgs(outageDb, outageSegments));
      await serve.waitFor(/^enqueued /m, 60);
      // On a queue of its own: it takes nothing. Started first, so that Redis dies while the other worker
      // is frozen in its first batch: it cannot take the job's other batch, and serve keeps serving.
      const idle = start([...workerArgs(outageSegments), '--queue-name', 'idle']);
      await idle.waitFor(/taking batches/, 30);
      const stranded = start(workerArgs(outageSegments), { SPARSETRACE_TEST_HOLD: 'mid-batch', SPARSETRACE_TEST_HOLD_MS: '2000' });
      await stranded.waitFor(/holding in batch/, 60);
      const pid = redis.pid;
      assert.ok(pid !== undefined);
      process.kill(pid, 'SIGKILL');
      await redis.kill('SIGKILL');
      await new Promise((done) => setTimeout(done, 2500));
      // All three at once, each timed from its own signal: each waits on Redis alone, so one after another only added up their waits.
      const children = [stranded, idle, serve];
      const terms = await Promise.all(children.map((child) => timed(child, 'SIGTERM')));
      children.forEach((child, k) => {
        assert.ok(terms[k].seconds <= 10, `exited after ${terms[k].seconds.toFixed(1)} s:\n${child.stderr}`);
        assert.equal(terms[k].code, 143, child.stderr);
      });
      assert.ok(!existsSync(join(tmpdir(), `sparsetrace-worker-${stranded.pid}`)), 'its work folder is removed');
      const lock = new Database(outageDb, { readonly: true });
      assert.equal((lock.prepare('SELECT count(*) AS n FROM writer_lock').get() as { n: number }).n, 0, 'serve released its lock');
      lock.close();
      assert.ok(outOfWalMode(outageDb), 'serve stopped during the outage leaves its database out of WAL mode');
    } finally {
      await Promise.all(processes.map((child) => child.stop()));
      await redis.stop();
    }
  });
});
