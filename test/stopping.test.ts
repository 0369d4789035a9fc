import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { escapedErrorExit, stopOnSignals } from '../src/cli/stopping.js';
import { classify, EnvironmentError } from '../src/errors.js';
import { cliHere, cliProcess, PROJECT_ROOT, SHARED_DATA, SHARED_MODEL, temporaryFolder } from './cli.js';

const folder = temporaryFolder('stopping');
after(() => folder.remove());

const errno = (code: string, message: string) => Object.assign(new Error(message), { code });

describe('classify', () => {
  test('a failed network connection is the environment (exit 1) in words, not a bug', () => {
    for (const [code, words] of [
      ['ECONNRESET', 'the connection was reset'],
      ['ECONNREFUSED', 'connection refused'],
      ['ETIMEDOUT', 'no answer within 5 s'],
    ] as const) {
      const known = classify(errno(code, `read ${code}`));
      assert.ok(known instanceof EnvironmentError, code);
      assert.equal(known.exitCode, 1);
      assert.equal(known.message, `a network connection failed: ${words} (read ${code})`);
    }
    assert.equal(classify(errno('ESOMETHING', 'what')), undefined);
  });
});

describe('escapedErrorExit', () => {
  test('before a stop signal an escaped error exits 1; while stopping on SIGTERM an environment failure exits 143 and a bug still exits 1', async () => {
    const reset = errno('ECONNRESET', 'read ECONNRESET');
    const bug = new TypeError('x is not a function');
    assert.equal(escapedErrorExit(reset), 1, 'no signal yet: a failure');
    assert.equal(escapedErrorExit(bug), 1);
    let stopped = false;
    const stopping = stopOnSignals({ stop: () => (stopped = true), quit: () => undefined, deadlineMs: null });
    try {
      process.kill(process.pid, 'SIGTERM');
      for (let waited = 0; !stopped && waited < 200; waited++) await new Promise((resolve) => setTimeout(resolve, 5));
      assert.ok(stopped, 'the stop began');
      assert.equal(escapedErrorExit(reset), 143, 'stopping: interrupted, not failed');
      assert.equal(escapedErrorExit(bug), 1, 'a bug is not hidden by the stop');
    } finally {
      stopping.dispose();
    }
  });
});

describe('a command stopping on SIGTERM when something rejects with nobody listening', () => {
  /** Eight runs of small shards, so the SIGTERM lands while shards are in flight. */
  const jobPath = join(folder.path, 'sweep.json');
  writeFileSync(
    jobPath,
    JSON.stringify({ name: 'stop-test', models: [SHARED_MODEL], data: [{ path: SHARED_DATA, length: 300, stride: 150, count: 4 }], dmax: [10, 30], tau: [0.01] }),
  );
  const preload = pathToFileURL(join(PROJECT_ROOT, 'dist', 'test', 'reject-on-sigterm.js')).href;

  const stopDuring = (db: string, rejectWith: 'network' | 'bug') =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const env = { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${preload}`, REJECT_WITH: rejectWith };
      const child = cliProcess(['run', jobPath, '--db', db, '--no-report', '--shard-size', '20'], { env });
      let stderr = '';
      let sent = false;
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (!sent && /^run 2\/8: /m.test(stderr)) {
          sent = true;
          child.kill('SIGTERM');
        }
      });
      child.on('exit', (code) => resolve({ code, stderr }));
    });

  test('a network failure ends it as interrupted (143), in one line, and resume finishes the job', async () => {
    const db = join(folder.path, 'network.sqlite');
    const stopped = await stopDuring(db, 'network');
    assert.equal(stopped.code, 143, stopped.stderr);
    assert.match(stopped.stderr, /^SIGTERM: stopping after the shards in flight are committed/m);
    assert.match(stopped.stderr, /^sparsetrace: a network connection failed: the connection was reset \(read ECONNRESET\)$/m);
    assert.doesNotMatch(stopped.stderr, /internal error/);
    const resumed = await cliHere(['resume', '--db', db, '--no-report']);
    assert.equal(resumed.code, 0, resumed.stderr);
    const status = await cliHere(['runs', '--db', db, '--format', 'json']);
    const runs = JSON.parse(status.stdout) as { status: string }[];
    assert.deepEqual([runs.length, runs.every((run) => run.status === 'done')], [8, true], status.stdout);
  });

  test('a bug is still a bug: exit 1 and "internal error"', async () => {
    const stopped = await stopDuring(join(folder.path, 'bug.sqlite'), 'bug');
    assert.equal(stopped.code, 1, stopped.stderr);
    assert.match(stopped.stderr, /^sparsetrace: internal error: x is not a function \(a bug; rerun with --debug for the trace to report\)$/m);
  });
});
