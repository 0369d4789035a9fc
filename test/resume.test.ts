import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openDatabase } from '../src/store/index.js';
import { cliHere, cliProcess, PROJECT_ROOT, resultRows, SHARED_DATA, SHARED_MODEL, temporaryFolder } from './cli.js';

const folder = temporaryFolder('resume');
after(() => folder.remove());

/** A sweep of 10 runs (5 windows × 2 depths) with small shards, so a kill can land anywhere. */
const jobPath = join(folder.path, 'sweep.json');
writeFileSync(
  jobPath,
  JSON.stringify({
    name: 'kill-test',
    models: [SHARED_MODEL],
    data: [{ path: SHARED_DATA, length: 300, stride: 150, count: 'all' }],
    dmax: [10, 30],
    tau: { from: 1e-3, to: 1, perDecade: 2 },
  }),
);
const RUNS = 10;
const sweepArgs = (db: string, extra: string[] = []): string[] => ['run', jobPath, '--db', db, '--no-report', '--shard-size', '20', ...extra];

/**
 * Committed shards never overlap, and the stored positions are exactly the union
 * of the committed shards: nothing half-written, nothing twice. Shards commit in
 * the order they finish, so an interrupted run may have gaps; with `complete`,
 * every run must be covered from 0 to its last position.
 */
function assertShardsConsistent(path: string, complete = false): void {
  const db = openDatabase(path, { readonly: true }); // the counts view needs sparsetrace's SQL functions
  try {
    const runs = db.prepare('SELECT run_id, positions FROM runs').all() as { run_id: string; positions: number }[];
    for (const run of runs) {
      const shards = db.prepare('SELECT start, count FROM shards JOIN runs USING (run_key) WHERE run_id = ? ORDER BY start').all(run.run_id) as { start: number; count: number }[];
      const expected: number[] = [];
      let next = 0;
      for (const shard of shards) {
        assert.ok(shard.start >= next, `run ${run.run_id}: shard at ${shard.start} overlaps the one ending at ${next}`);
        if (complete) assert.equal(shard.start, next, `run ${run.run_id}: gap before shard at ${shard.start}`);
        for (let t = shard.start; t < shard.start + shard.count; t++) expected.push(t);
        next = shard.start + shard.count;
      }
      assert.ok(next <= run.positions, `run ${run.run_id}: shards end at ${next}, past ${run.positions}`);
      if (complete) assert.equal(next, run.positions, `run ${run.run_id}: shards end at ${next}`);
      const stored = (db.prepare('SELECT t FROM positions WHERE run_id = ? ORDER BY t').all(run.run_id) as { t: number }[]).map((row) => row.t);
      assert.deepEqual(stored, expected, `run ${run.run_id}: stored positions are the committed shards`);
      const counted = db.prepare('SELECT count(DISTINCT t) AS positions, count(*) AS rows FROM counts WHERE run_id = ?').get(run.run_id) as { positions: number; rows: number };
      const taus = db.prepare('SELECT count(*) AS n FROM run_taus JOIN runs USING (run_key) WHERE run_id = ?').get(run.run_id) as { n: number };
      assert.deepEqual(counted, { positions: expected.length, rows: expected.length * taus.n }, `run ${run.run_id}: counts rows`);
    }
  } finally {
    db.close();
  }
}

/**
 * Starts the sweep and SIGKILLs it `delayMs` (default 0) after its stderr first
 * matches `after`. Kill points are progress lines, not wall-clock times, so a
 * faster or slower machine still kills inside the sweep rather than after it.
 */
function killDuring(db: string, when: { after: RegExp; delayMs?: number }): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; pid: number }> {
  return new Promise((resolve) => {
    const child = cliProcess(sweepArgs(db));
    let stderr = '';
    let triggered = false;
    let timer: NodeJS.Timeout | undefined;
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (triggered || !when.after.test(stderr)) return;
      triggered = true;
      timer = setTimeout(() => child.kill('SIGKILL'), when.delayMs ?? 0);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr, pid: child.pid as number });
    });
  });
}

/** `text` matched literally in a RegExp. */
const literal = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function runStatusCounts(path: string): Record<string, number> {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db.prepare('SELECT status, count(*) AS n FROM runs GROUP BY status').all() as { status: string; n: number }[];
    return Object.fromEntries(rows.map((row) => [row.status, row.n]));
  } finally {
    db.close();
  }
}

describe('a sweep killed at any moment resumes to the same results', () => {
  const uninterrupted = join(folder.path, 'uninterrupted.sqlite');
  /** The uninterrupted run's resultRows, read once (about 1.5 s of CPU a read): every resumed store must end with these. */
  let uninterruptedRows: string | undefined;
  const expectedRows = (): string => (uninterruptedRows ??= resultRows(uninterrupted));

  test('uninterrupted run', async () => {
    const run = await cliHere(sweepArgs(uninterrupted));
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(runStatusCounts(uninterrupted), { done: RUNS });
  });

  test('SIGKILL early, mid-shard, between runs and at random moments, resuming each time', async () => {
    const db = join(folder.path, 'killed.sqlite');
    // Each kill point is the start of a run that the earlier kills stopped short of
    // (a run takes ~100 ms here, more than any delay), so every kill lands mid-sweep.
    const randomMs = (): number => Math.floor(Math.random() * 40);
    const kills = [
      { after: /^job: /m }, // before the first shard
      { after: /^run 1\/10: /m, delayMs: 15 }, // inside the first run's shards
      { after: /^run 3\/10 done/m }, // right after a run is finished
      { after: /^run ([4-9]|10)\/10: /m, delayMs: randomMs() }, // at random moments
      { after: /^run ([6-9]|10)\/10: /m, delayMs: randomMs() },
      { after: /^run (8|9|10)\/10: /m }, // as a run starts
    ];
    let sawPartial = false;
    for (const kill of kills) {
      const killed = await killDuring(db, kill);
      assert.equal(killed.signal, 'SIGKILL', `process ended before the kill: ${killed.stderr}`);
      // The lock still names the killed process: status says it is gone and how to resume, never "no live writer".
      const status = await cliHere(['status', '--db', db]);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout.split('\n')[0], new RegExp(`^${literal(db)}: the writer \\(pid ${killed.pid} on .*\\) is gone: its job was interrupted; resume with \`sparsetrace resume --db ${literal(db)}\`$`));
      assert.doesNotMatch(status.stdout, /no live writer|: running,/);
      const json = JSON.parse((await cliHere(['status', '--db', db, '--format', 'json'])).stdout) as { writer: unknown; writer_state: string; gone_writer: { pid: number }; jobs: { state: string; eta_seconds: unknown }[] };
      assert.deepEqual([json.writer, json.writer_state, json.gone_writer.pid, json.jobs[0].eta_seconds], [null, 'gone', killed.pid, null]);
      assert.match(json.jobs[0].state, /^(interrupted|pending)$/);
      assertShardsConsistent(db);
      const counts = runStatusCounts(db);
      if ((counts.done ?? 0) < RUNS) sawPartial = true;
    }
    assert.ok(sawPartial, 'at least one kill left the sweep unfinished');
    const resumed = await cliHere(['resume', '--db', db, '--no-report']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /taking over the writer lock .* left by process \d+/);
    assert.deepEqual(runStatusCounts(db), { done: RUNS });
    assertShardsConsistent(db, true);
    assert.equal(resultRows(db), expectedRows());
  });

  test('SIGINT stops cleanly after committing the shards in flight, says how to resume, and frees the lock', async () => {
    const db = join(folder.path, 'sigint.sqlite');
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = cliProcess(sweepArgs(db));
      let stderr = '';
      let sent = false;
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (!sent && /^run 2\/10: /m.test(stderr)) {
          sent = true;
          child.kill('SIGINT');
        }
      });
      child.on('exit', (code) => resolve({ code, stderr }));
    });
    assert.equal(result.code, 130, result.stderr);
    assert.match(result.stderr, /SIGINT: stopping after the shards in flight are committed/);
    assert.match(result.stderr, /resume with `sparsetrace resume --db /);
    assertShardsConsistent(db);
    const status = await cliHere(['status', '--db', db]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /no live writer/);
    assert.match(status.stdout, /interrupted|pending/);
    const resumed = await cliHere(['resume', '--db', db, '--no-report']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.doesNotMatch(resumed.stderr, /taking over/);
    assert.equal(resultRows(db), expectedRows());
    const again = await cliHere(['resume', '--db', db]);
    assert.equal(again.code, 0);
    assert.match(again.stderr, /nothing to resume/);
  });
});

describe('one writer per database', () => {
  test('a second run on a database being written is refused with the writer named; --wait waits for it', async () => {
    const db = join(folder.path, 'busy.sqlite');
    const first = cliProcess(sweepArgs(db, ['--threads', '1'])); // one thread: the writer stays busy longer
    const firstExit = new Promise<number | null>((resolve) => first.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve) => {
      let stderr = '';
      first.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (/^run 1\/10: /m.test(stderr)) resolve();
      });
    });
    // Hold the first writer still (SIGSTOP), so the others meet it writing however fast the sweep is.
    first.kill('SIGSTOP');
    const second = await cliHere(sweepArgs(db));
    assert.equal(second.code, 1, second.stderr);
    assert.match(second.stderr, new RegExp(`process ${first.pid} on ${hostname()} .* is writing it`));
    assert.match(second.stderr, /--wait/);
    const waiting = cliProcess(sweepArgs(db, ['--wait']));
    let waitingErr = '';
    const waitingExit = new Promise<number | null>((resolve) => waiting.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve) => {
      waiting.stderr.on('data', (chunk: Buffer) => {
        waitingErr += chunk.toString();
        if (/waiting \(--wait\)/.test(waitingErr)) resolve();
      });
    });
    first.kill('SIGCONT');
    assert.equal(await firstExit, 0);
    assert.equal(await waitingExit, 0, waitingErr);
    assert.deepEqual(runStatusCounts(db), { done: RUNS });
  });

  test('a lock left by a dead process is detected and taken over', async () => {
    const db = join(folder.path, 'stale.sqlite');
    const setup = await cliHere(['run', '--model', SHARED_MODEL, '--data', SHARED_DATA, '--length', '40', '--db', db, '--no-report']);
    assert.equal(setup.code, 0, setup.stderr);
    const deadPid = 2 ** 22 + 12345; // above Linux's default pid_max, so never a live process
    const handle = new Database(db);
    handle.prepare(`INSERT INTO writer_lock (only_row, pid, host, command, started_at) VALUES (1, ?, ?, 'sparsetrace run (crashed)', '2026-01-01T00:00:00Z')`).run(deadPid, hostname());
    handle.close();
    const status = await cliHere(['status', '--db', db]);
    // Not "no live writer": the lock names a process, and status says it is gone (its job was done: nothing to resume).
    assert.match(status.stdout, new RegExp(`^${literal(db)}: the writer \\(pid ${deadPid} on ${hostname()}, sparsetrace run \\(crashed\\), since 2026-01-01T00:00:00Z\\) is gone; the next writer takes its lock over$`, 'm'));
    assert.doesNotMatch(status.stdout, /no live writer/);
    const run = await cliHere(['run', '--model', SHARED_MODEL, '--data', SHARED_DATA, '--length', '60', '--db', db, '--no-report']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, new RegExp(`taking over the writer lock of .* left by process ${deadPid}`));
    const after = new Database(db, { readonly: true });
    const lockRows = after.prepare('SELECT count(*) AS n FROM writer_lock').get() as { n: number };
    assert.equal(lockRows.n, 0, 'the lock is released when the run ends');
    after.close();
  });

  test('a lock held on another host is refused (it cannot be checked); unlock removes it once its pid is confirmed', async () => {
    const db = join(folder.path, 'foreign.sqlite');
    const setup = await cliHere(['run', '--model', SHARED_MODEL, '--data', SHARED_DATA, '--length', '40', '--db', db, '--no-report']);
    assert.equal(setup.code, 0, setup.stderr);
    const handle = new Database(db);
    handle.prepare(`INSERT INTO writer_lock (only_row, pid, host, command, started_at) VALUES (1, 4242, 'other-host', 'sparsetrace run', '2026-01-01T00:00:00Z')`).run();
    handle.close();
    const refused = await cliHere(['run', '--model', SHARED_MODEL, '--data', SHARED_DATA, '--length', '60', '--db', db, '--no-report']);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /process 4242 on other-host .* is writing it/);
    assert.ok(refused.stderr.includes(`clear the lock with \`sparsetrace unlock --db ${db}\``), refused.stderr);
    const sqlWrite = await cliHere(['sql', '--write', 'DELETE FROM writer_lock', '--db', db]);
    assert.equal(sqlWrite.code, 1, 'sql --write is a writer like any other');
    assert.match(sqlWrite.stderr, /process 4242 on other-host .* is writing it/);
    const unconfirmed = await cliHere(['unlock', '--db', db]);
    assert.equal(unconfirmed.code, 2, unconfirmed.stderr);
    assert.ok(unconfirmed.stderr.includes(`confirm with \`sparsetrace unlock --pid 4242 --db ${db}\``), unconfirmed.stderr);
    const wrongPid = await cliHere(['unlock', '--pid', '4243', '--db', db]);
    assert.equal(wrongPid.code, 2, wrongPid.stderr);
    const unlocked = await cliHere(['unlock', '--pid', '4242', '--db', db]);
    assert.equal(unlocked.code, 0, unlocked.stderr);
    assert.match(unlocked.stderr, /removed the writer lock of process 4242 on other-host \(sparsetrace run, started 2026-01-01T00:00:00Z\)/);
    const run = await cliHere(['run', '--model', SHARED_MODEL, '--data', SHARED_DATA, '--length', '60', '--db', db, '--no-report']);
    assert.equal(run.code, 0, run.stderr);
    const nothing = await cliHere(['unlock', '--db', db]);
    assert.equal(nothing.code, 0, nothing.stderr);
    assert.match(nothing.stderr, /no writer lock/);
  });
});

describe('on a terminal, and while a job is live', () => {
  /** A sweep that takes several seconds (16 runs of 8 KiB), so it can be watched and interrupted mid-way. */
  const longJob = join(folder.path, 'long.json');
  writeFileSync(
    longJob,
    JSON.stringify({
      name: 'long-sweep',
      models: [SHARED_MODEL],
      data: [{ path: join(PROJECT_ROOT, 'node_modules', 'typescript', 'lib', 'lib.es5.d.ts'), offset: 4096, length: 8192, stride: 8192, count: 8 }],
      dmax: [20, 50],
      tau: { from: 1e-3, to: 1, perDecade: 2 },
    }),
  );
  const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

  test('status of a live job: running, with a rate and an ETA as a duration, measured from the store', async () => {
    const db = join(folder.path, 'live.sqlite');
    const child = cliProcess(['run', longJob, '--db', db, '--no-report', '--threads', '1', '--shard-size', '512']);
    try {
      let stderr = '';
      // Two runs in: shards of this writer are committed.
      await new Promise<void>((resolve, reject) => {
        child.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
          if (/^run 2\/16: /m.test(stderr)) resolve();
        });
        child.on('exit', () => reject(new Error(`ended before the check: ${stderr}`)));
      });
      const text = await cliHere(['status', '--db', db]);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, new RegExp(`being written by process ${child.pid}`));
      assert.match(text.stdout, /^job 1 long-sweep: running, \d+\/16 runs, \d+\/131056 positions \(\d+%\), [\d.]+ positions\/s over the last \d+s, ETA (\d+s|\d+m \d+s)$/m);
      assert.doesNotMatch(text.stdout, /interrupted|resume with/);
      const json = JSON.parse((await cliHere(['status', '--db', db, '--format', 'json'])).stdout) as { writer_state: string; jobs: { state: string; rate: number; work_rate: number; eta_seconds: number; work_units: number; work_units_done: number }[] };
      const [job] = json.jobs;
      assert.equal(json.writer_state, 'live');
      assert.equal(job.state, 'running');
      assert.ok(job.rate > 0 && job.work_rate > job.rate, `work rate ${job.work_rate} counts depth, positions rate ${job.rate}`);
      assert.ok(job.eta_seconds > 0 && Number.isFinite(job.eta_seconds));
      assert.ok(job.work_units_done > 0 && job.work_units_done < job.work_units);
    } finally {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });

  test('two Ctrl-C in a terminal: quits at once with the resume command, cursor and line wrap restored', { skip: hasScript ? false : 'script (util-linux) is not installed' }, async () => {
    const db = join(folder.path, 'pty.sqlite');
    const transcript = join(folder.path, 'pty.log');
    const command = `stty cols 140; exec ${process.execPath} ${join(PROJECT_ROOT, 'bin', 'sparsetrace.js')} run ${longJob} --db ${db} --no-report --threads 2 --shard-size 8192`;
    // script runs the command on a pseudo-terminal; Ctrl-C typed on its input reaches the command as SIGINT.
    const terminal = spawn('script', ['-qfec', command, transcript], { stdio: ['pipe', 'ignore', 'ignore'] });
    const exited = new Promise<number | null>((resolve) => terminal.on('exit', (code) => resolve(code)));
    const drawn = (): string => (existsSync(transcript) ? readFileSync(transcript, 'latin1') : '');
    // Mid-way: the bar of a run is drawn and the job's bar counts a committed shard.
    for (const began = Date.now(); !(/run \d+\/16 Dmax \d+ lib\.es5\.d\.ts/.test(drawn()) && /job 16 runs +\|[^|]*\| [1-9]\d*\/131056 positions/.test(drawn())); ) {
      assert.ok(Date.now() - began < 30_000, `no bar drawn: ${drawn()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    terminal.stdin.write('\x03');
    // The second Ctrl-C only once the first is seen: two SIGINTs pending at once are one signal to the kernel (a loaded
    // machine). Shards of a whole run (--shard-size 8192, about a second each) keep the first stop waiting for it (an idle one).
    for (const began = Date.now(); !/SIGINT: stopping after/.test(drawn()); ) {
      assert.ok(Date.now() - began < 30_000, `the first Ctrl-C was not seen: ${drawn()}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    terminal.stdin.write('\x03');
    assert.equal(await exited, 130);
    const output = drawn();
    assert.match(output, /SIGINT again: quitting now; committed shards are kept; resume with `sparsetrace resume --db \S+pty\.sqlite`/);
    assert.ok(output.includes('\x1b[?25l') && output.lastIndexOf('\x1b[?25h') > output.lastIndexOf('\x1b[?25l'), 'the cursor is shown again');
    assert.ok(output.includes('\x1b[?7l') && output.lastIndexOf('\x1b[?7h') > output.lastIndexOf('\x1b[?7l'), 'line wrap is on again');
    assert.doesNotMatch(output, /ETA (INF|\d+ )/);
    // The lock was released on the way out; what was committed is consistent and resumes.
    assert.match((await cliHere(['status', '--db', db])).stdout, /: no live writer\n[\s\S]*: interrupted, \d+\/16 runs, .*; resume with `sparsetrace resume --db \S+pty\.sqlite`$/m);
    assertShardsConsistent(db);
  });
});
