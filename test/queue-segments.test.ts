import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cli } from './cli-child.js';
import { cliHere, resultRows, SHARED_DATA, SHARED_MODEL, temporaryFolder } from './cli.js';
import { WorkerHere } from './queue-worker.js';
import { redisAvailable, TestRedis } from './redis.js';

/**
 * What serve merges: only segments made for its job and queue, only whole;
 * anything else set aside in rejected/ (or, another serve's, left alone), and
 * serve goes on. One serve per queue. Real redis-servers on 127.0.0.1, stopped
 * by pid; every wait bounded.
 */
const available = redisAvailable();
if (!available && process.env.SPARSETRACE_REQUIRE_REDIS === '1') throw new Error('redis-server is not installed (apt-get install -y redis-server)');
const skip = available ? false : 'redis-server is not installed (.ci/run installs it)';

const folder = temporaryFolder('queue-segments');
after(() => folder.remove());

/** 4 windows at Dmax 9 = 4 runs of 59 positions; batches of 2 runs. */
const jobPath = join(folder.path, 'segments-job.json');
writeFileSync(jobPath, JSON.stringify({ name: 'segments-test', models: [SHARED_MODEL], data: [{ path: SHARED_DATA, length: 60, stride: 100, count: 4 }], dmax: [9], tau: [0.01, 0.1] }));
/** Another job: the same windows at Dmax 4, so none of its runs is one of the first's. */
const otherJobPath = join(folder.path, 'other-job.json');
writeFileSync(otherJobPath, JSON.stringify({ name: 'other-test', models: [SHARED_MODEL], data: [{ path: SHARED_DATA, length: 60, stride: 100, count: 4 }], dmax: [4], tau: [0.01, 0.1] }));
const reference = join(folder.path, 'reference.sqlite');
const otherReference = join(folder.path, 'other-reference.sqlite');

/** No REDIS_URL from the environment the tests run in. */
const CLEAN_ENV = { REDIS_URL: undefined };

/** Whether a closed database is out of WAL mode (byte 18 of its header is 1) with no -wal beside it: readable from read-only media. */
function outOfWalMode(path: string): boolean {
  const header = Buffer.alloc(20);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, header, 0, 20, 0);
  } finally {
    closeSync(fd);
  }
  return header[18] === 1 && !existsSync(`${path}-wal`);
}

const count = (db: string, sql: string): number => {
  const connection = new Database(db, { readonly: true });
  try {
    return connection.prepare(sql).pluck().get() as number;
  } finally {
    connection.close();
  }
};

class Setting {
  readonly processes: (Cli | WorkerHere)[] = [];
  private constructor(readonly redis: TestRedis, readonly segments: string) {}

  static async start(name: string): Promise<Setting> {
    const segments = join(folder.path, `${name}-segments`);
    mkdirSync(segments);
    return new Setting(await TestRedis.start(), segments);
  }

  serveArgs(db: string, extra: string[] = [], job = jobPath): string[] {
    return ['serve', job, '--queue', this.redis.url, '--segments', this.segments, '--db', db, '--batch-cost', '700', '--poll-ms', '200', ...extra];
  }

  serve(db: string, extra: string[] = [], job = jobPath): Cli {
    const child = new Cli(this.serveArgs(db, extra, job), CLEAN_ENV);
    this.processes.push(child);
    return child;
  }

  private workDir(): string {
    return join(folder.path, `work-${this.processes.length}-${Date.now()}`);
  }

  /** A worker process, for a test that signals it and checks its exit. */
  workerProcess(): Cli {
    const child = new Cli(
      ['worker', '--queue', this.redis.url, '--segments', this.segments, '--work-dir', this.workDir(), '--threads', '1', '--shard-size', '20', '--lock-seconds', '2'],
      CLEAN_ENV,
    );
    this.processes.push(child);
    return child;
  }

  /** A worker in this process (test/queue-worker.ts): what is tested of it is what serve merges, not a process. */
  worker(queueName?: string): WorkerHere {
    const worker = new WorkerHere({ url: this.redis.url, segments: this.segments, workDir: this.workDir(), shardSize: 20, lockSeconds: 2, queueName });
    this.processes.push(worker);
    return worker;
  }

  async close(): Promise<void> {
    await Promise.all(this.processes.map((child) => child.stop()));
    await this.redis.stop();
  }
}

before(async () => {
  if (!available) return;
  for (const [job, db] of [[jobPath, reference], [otherJobPath, otherReference]] as const) {
    const run = await cliHere(['run', job, '--db', db, '--no-report']);
    assert.equal(run.code, 0, run.stderr);
  }
});

describe('serve merges only its own, whole segments', { skip }, () => {
  test('a truncated, a non-SQLite, a folder and an incomplete segment are set aside with their reasons; another job\'s is left alone; serve goes on', async () => {
    const setting = await Setting.start('bad');
    const db = join(folder.path, 'bad.sqlite');
    try {
      // Segments made while no serve merges them: a serve enqueues and is stopped, a worker computes both batches.
      const first = setting.serve(db);
      await first.waitFor(/^enqueued 4 runs in 2 batches/m, 60);
      first.kill('SIGTERM');
      assert.equal((await first.exit(20)).code, 143, first.stderr);
      const worker = setting.workerProcess();
      for (let waited = 0; readdirSync(setting.segments).filter((name) => name.endsWith('.segment.sqlite')).length < 2; waited += 200) {
        assert.ok(waited < 120_000, worker.stderr);
        await new Promise((done) => setTimeout(done, 200));
      }
      worker.kill('SIGTERM');
      assert.equal((await worker.exit(20)).code, 143, worker.stderr);
      const [damagedName, goodName] = readdirSync(setting.segments).filter((name) => name.endsWith('.segment.sqlite')).sort();
      const good = join(setting.segments, goodName!);
      const batchOf = (name: string) => name.split('.')[0]!;

      // The first batch's segment, half of one run's positions gone: kept outside until serve has enqueued its batch.
      const incomplete = join(folder.path, damagedName!);
      renameSync(join(setting.segments, damagedName!), incomplete);
      const altered = new Database(incomplete);
      altered.exec('DELETE FROM position_rows WHERE run_key = (SELECT min(run_key) FROM runs) AND t >= 30');
      altered.close();
      // A copy of the good one cut in half, a text file, a folder, and one made for another job.
      const truncated = join(setting.segments, 'btruncated.host-1-1.segment.sqlite');
      copyFileSync(good, truncated);
      truncateSync(truncated, Math.floor(statSync(good).size / 2));
      writeFileSync(join(setting.segments, 'bjunk.host-1-1.segment.sqlite'), 'not a database\n');
      mkdirSync(join(setting.segments, 'bfolder.host-1-1.segment.sqlite'));
      const foreign = join(setting.segments, `${batchOf(goodName!)}.elsewhere-1-1.segment.sqlite`);
      copyFileSync(good, foreign);
      const stamp = new Database(foreign);
      stamp.prepare('UPDATE segment_identity SET job_sha256 = ?').run('f'.repeat(64));
      stamp.close();

      const serve = setting.serve(db);
      await serve.waitFor(/^enqueued 2 runs in 1 batches/m, 60);
      assert.match(serve.stderr, new RegExp(`merged ${good}: 2 runs, 118 positions`));
      assert.match(serve.stderr, new RegExp(`segment ${truncated}: damaged \\(truncated or altered\\): .*; set aside in ${setting.segments}/rejected/`));
      assert.match(serve.stderr, /segment \S+bjunk\.host-1-1\.segment\.sqlite: not a SQLite database; set aside in /);
      assert.match(serve.stderr, /segment \S+bfolder\.host-1-1\.segment\.sqlite: a folder, not a segment file; set aside in /);
      assert.match(serve.stderr, new RegExp(`segment ${foreign}: made for job "ffffffffffff" on queue "sparsetrace" \\(by worker "[^"]+"\\), not for this serve's job [0-9a-f]{12} on queue "sparsetrace"; left where it is for its own serve`));
      // Now the incomplete segment of a batch this serve enqueued: set aside, the batch enqueued again at once.
      renameSync(incomplete, join(setting.segments, damagedName!));
      await serve.waitFor(/is marked done but incomplete/, 30);
      assert.match(
        serve.stderr,
        new RegExp(`segment ${join(setting.segments, damagedName!)}: run [0-9a-f]{16} is marked done but incomplete: position_rows has 30 of its 59 positions; set aside in ${setting.segments}/rejected/ \\(not merged; its 2 runs not done here are enqueued again\\)`),
      );
      setting.worker();
      const { code } = await serve.exit(120);
      assert.equal(code, 0, serve.stderr);
      assert.match(serve.stderr, /all 4 runs done/);
      assert.equal(resultRows(db), resultRows(reference), 'the results are those of a single run, nothing foreign');
      const rejected = readdirSync(join(setting.segments, 'rejected')).sort();
      assert.deepEqual(rejected, [
        damagedName!, `${damagedName!}.reason.txt`,
        'bfolder.host-1-1.segment.sqlite', 'bfolder.host-1-1.segment.sqlite.reason.txt',
        'bjunk.host-1-1.segment.sqlite', 'bjunk.host-1-1.segment.sqlite.reason.txt',
        'btruncated.host-1-1.segment.sqlite', 'btruncated.host-1-1.segment.sqlite.reason.txt',
      ].sort());
      assert.match(readFileSync(join(setting.segments, 'rejected', 'bjunk.host-1-1.segment.sqlite.reason.txt'), 'utf8'), /^not a SQLite database\n$/);
      assert.ok(statSync(join(setting.segments, 'rejected', 'bfolder.host-1-1.segment.sqlite')).isDirectory());
      assert.deepEqual(readdirSync(setting.segments).sort(), [`${batchOf(goodName!)}.elsewhere-1-1.segment.sqlite`, 'rejected'], 'only the foreign segment is left');
      // Restarted (in this process: no signal or exit is tested): nothing left to do, the foreign segment said once more and still left.
      const again = await cliHere(setting.serveArgs(db));
      assert.equal(again.code, 0, again.stderr);
      assert.ok(existsSync(foreign));
      assert.ok(outOfWalMode(db), 'serve leaves its database out of WAL mode');
    } finally {
      await setting.close();
    }
  });

  test('two jobs sharing one segments folder (two queues): each serve merges only its own runs', async () => {
    const setting = await Setting.start('shared');
    const first = join(folder.path, 'shared-first.sqlite');
    const second = join(folder.path, 'shared-second.sqlite');
    try {
      const serveFirst = setting.serve(first, ['--queue-name', 'first']);
      const serveSecond = setting.serve(second, ['--queue-name', 'second'], otherJobPath);
      setting.worker('first');
      setting.worker('second');
      for (const serve of [serveFirst, serveSecond]) {
        const { code } = await serve.exit(180);
        assert.equal(code, 0, serve.stderr);
      }
      assert.equal(resultRows(first), resultRows(reference));
      assert.equal(resultRows(second), resultRows(otherReference));
      assert.equal(count(first, 'SELECT count(*) FROM runs'), 4);
      assert.equal(count(second, 'SELECT count(*) FROM runs'), 4);
      assert.ok(!existsSync(join(setting.segments, 'rejected')), `nothing rejected:\n${serveFirst.stderr}\n${serveSecond.stderr}`);
    } finally {
      await setting.close();
    }
  });
});

describe('one serve per queue', { skip }, () => {
  test('a second serve is refused (exit 1, one line); a stopped one lets go at once, a killed one after --lock-seconds', async () => {
    const setting = await Setting.start('lock');
    const db = join(folder.path, 'lock.sqlite');
    const otherDb = join(folder.path, 'lock-other.sqlite');
    try {
      const holder = setting.serve(db, ['--lock-seconds', '3']);
      await holder.waitFor(/^enqueued /m, 60);
      // The same job, or another job, on the same queue: refused before any database is touched (in this process: a refusal, no signal).
      for (const [job, database] of [[jobPath, db], [otherJobPath, otherDb]] as const) {
        const second = await cliHere(setting.serveArgs(database, [], job));
        assert.equal(second.code, 1, second.stderr);
        assert.equal(second.stderr.trim().split('\n').filter((line) => !/^(warning|note):/.test(line)).length, 1, second.stderr);
        assert.match(
          second.stderr,
          new RegExp(`queue "sparsetrace" at redis://127\\.0\\.0\\.1:${setting.redis.port} is coordinated by another serve \\(job "segments-test", pid "${holder.pid}" on host "[^"]+", since "[^"]+"\\); one serve per queue: stop that one, or give this job a --queue-name \\(and --segments\\) of its own \\(if it was killed, its lock lapses within [1-3] s\\)`),
        );
      }
      assert.ok(!existsSync(otherDb), 'the refused serve created no database');
      assert.doesNotMatch(holder.stderr, /stopping/, 'the first serve goes on');
      // SIGTERM: the lock goes with it, a new serve starts at once; the database is out of WAL mode.
      holder.kill('SIGTERM');
      assert.equal((await holder.exit(20)).code, 143, holder.stderr);
      assert.ok(outOfWalMode(db), 'a stopped serve leaves its database out of WAL mode');
      const killed = setting.serve(db, ['--lock-seconds', '3']);
      await killed.waitFor(/^enqueued /m, 60);
      killed.kill('SIGKILL');
      await killed.exit(20);
      const early = await cliHere(setting.serveArgs(db));
      assert.equal(early.code, 1, early.stderr);
      assert.match(early.stderr, /is coordinated by another serve .*its lock lapses within [1-3] s/);
      await new Promise((done) => setTimeout(done, 3500));
      // The lock found in other hands at a refresh (it lapsed while Redis was unreachable, and another serve took it): exit 1, said.
      const ousted = setting.serve(db, ['--lock-seconds', '3']);
      await ousted.waitFor(/^enqueued /m, 60);
      assert.equal(setting.redis.cli('SET', 'sparsetrace:serve-lock:sparsetrace', '{"job":"intruder","pid":1,"host":"elsewhere","since":"now"}').trim(), 'OK');
      assert.equal((await ousted.exit(30)).code, 1, ousted.stderr);
      assert.match(ousted.stderr, /serve: queue "sparsetrace" is now coordinated by another serve \(job "intruder", pid "1" on host "elsewhere", since "now"\), which took it while this one could not refresh its lock; stopping/);
      assert.ok(outOfWalMode(db));
      assert.equal(setting.redis.cli('GET', 'sparsetrace:serve-lock:sparsetrace').trim(), '{"job":"intruder","pid":1,"host":"elsewhere","since":"now"}', "another's lock is not deleted");
      setting.redis.cli('DEL', 'sparsetrace:serve-lock:sparsetrace');
      const next = setting.serve(db);
      setting.worker();
      const { code } = await next.exit(120);
      assert.equal(code, 0, next.stderr);
      assert.equal(resultRows(db), resultRows(reference));
      assert.ok(outOfWalMode(db), 'a serve that finished leaves its database out of WAL mode');
      assert.equal(setting.redis.cli('EXISTS', 'sparsetrace:serve-lock:sparsetrace').trim(), '0', 'the lock is gone with the serve');
    } finally {
      await setting.close();
    }
  });
});
