/** The CLI behaves like its peers: help with examples, version at the top, the database found without --db. */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as definedCommands from '../src/cli/commands.js';
import { GROUPINGS } from '../src/report/choices.js';
import { cliHere, PROJECT_ROOT, SHARED_DATA, SHARED_MODEL, temporaryFolder } from './cli.js';

const folder = temporaryFolder('conventions');
after(() => folder.remove());
const BIN = join(PROJECT_ROOT, 'bin', 'sparsetrace.js');

/** The CLI in another working directory, with extra environment variables. */
function cliIn(cwd: string, args: readonly string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('help and usage', () => {
  test('every command has examples in its help; --version belongs to the program', async () => {
    const top = await cliHere(['--help']);
    const commands = [...top.stdout.matchAll(/^ {2}sparsetrace ([a-z-]+)/gm)].map((match) => match[1]);
    // Every command defined (src/cli/commands.ts), and yargs' completion: none left out of the program.
    const defined = Object.values(definedCommands).map((module) => String(module.command).split(' ')[0]);
    assert.deepEqual([...commands].sort(), [...defined, 'completion'].sort(), top.stdout);
    for (const command of commands.filter((name) => name !== 'completion')) {
      const help = await cliHere([command, '--help']);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /^Examples:$/m, `${command} --help has examples`);
      assert.doesNotMatch(help.stdout, /--version/, `${command} --help does not offer --version`);
    }
    assert.match((await cliHere(['-V'])).stdout, /^\d+\.\d+\.\d+/);
  });

  test('a usage error names the command whose help explains it, on one line', async () => {
    const result = await cliHere(['report', '--by', 'colour']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--by: "colour" is not a key \(keys: model, data, window, dmax, job; several: --by window,dmax\) \(see `sparsetrace report --help`\)/);
  });
});

describe('version and completion', () => {
  test('--version and every run\'s tool_version say the same: the package version and the commit built', async () => {
    const version = (await cliHere(['--version'])).stdout.trim();
    const pkg = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    assert.notEqual(pkg, '0.1.0', '0.1.0 names the first schema (docs/schema.md)');
    assert.match(version, new RegExp(`^${pkg.replace(/\./g, '\\.')}(\\+[0-9a-f]{7,40}(\\.dirty)?)?$`));
    const db = join(folder.path, 'version.sqlite');
    assert.equal((await cliHere(['run', '--model', SHARED_MODEL, '--data', SHARED_DATA, '--length', '30', '--db', db, '--no-report'])).code, 0);
    const recorded = JSON.parse((await cliHere(['sql', 'SELECT DISTINCT tool_version FROM runs', '--db', db, '--format', 'json'])).stdout) as { tool_version: string }[];
    assert.deepEqual(recorded, [{ tool_version: version }]);
  });

  test('the bash script completes commands, run ids, job names and --by keys, as `sparsetrace` and as `npx sparsetrace`, from any folder', async () => {
    const db = join(folder.path, 'complete.sqlite');
    assert.equal((await cliHere(['run', '--model', SHARED_MODEL, '--data', SHARED_DATA, '--length', '30', '--dmax', '4', '--db', db, '--no-report'])).code, 0);
    const runId = (JSON.parse((await cliHere(['runs', '--db', db, '--format', 'json'])).stdout) as { run_id: string }[])[0].run_id;
    // In-process: the script must name this checkout's launcher, not whatever script runs the process (here the test).
    const script = (await cliHere(['completion'])).stdout;
    assert.match(script, /complete .* sparsetrace$/m);
    assert.ok(script.includes(`'${realpathSync(join(PROJECT_ROOT, 'bin', 'sparsetrace.js'))}'`), 'the script runs bin/sparsetrace.js');
    /** COMPREPLY for a command line whose last word is being typed, in bash, with the script sourced, from /. */
    const complete = (...words: string[]): string[] => {
      const program = `${script}\nCOMP_WORDS=(${words.map((word) => `'${word}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _sparsetrace_completions; printf '%s\\n' "\${COMPREPLY[@]}"`;
      const result = spawnSync('bash', ['-c', program], { cwd: '/', encoding: 'utf8', env: { ...process.env, SPARSETRACE_DB: '' } });
      assert.equal(result.status, 0, result.stderr);
      return result.stdout.split('\n').filter((line) => line !== '');
    };
    assert.deepEqual(complete('sparsetrace', 'rep'), ['report']);
    assert.deepEqual(complete('npx', 'sparse'), ['sparsetrace']);
    assert.deepEqual(complete('npx', 'sparsetrace', 'stat'), ['status']);
    assert.deepEqual(complete('npx', 'sparsetrace', 'report', '--db', db, '--run', ''), [runId]);
    assert.deepEqual(complete('sparsetrace', 'status', '--db', db, '--job', ''), ['1', 'sat_model-enwik_1024@0+30-dmax4']);
    assert.deepEqual(complete('npx', 'sparsetrace', 'report', '--by', 'window,'), GROUPINGS.filter((key) => key !== 'window').map((key) => `window,${key}`));
    assert.deepEqual(complete('sparsetrace', 'report', '--by', ''), [...GROUPINGS]);
    assert.deepEqual(complete('npx', 'other-package', 'x'), [], 'npx with another package is left alone');
  });
});

describe('the database without --db', () => {
  const job = join(folder.path, 'named-db.json');
  writeFileSync(job, JSON.stringify({ name: 'named-db', models: [SHARED_MODEL], data: [{ path: SHARED_DATA, length: 40 }], tau: [0.01], db: 'elsewhere/named.sqlite' }));

  test('the database a job file names is remembered for status, report and resume', () => {
    const run = cliIn(folder.path, ['run', job, '--no-report']);
    assert.equal(run.code, 0, run.stderr);
    for (const command of ['status', 'report', 'resume']) {
      const result = cliIn(folder.path, [command]);
      assert.equal(result.code, 0, `${command}: ${result.stderr}`);
      assert.match(result.stderr, /database .*elsewhere\/named\.sqlite, used by the last run/);
    }
  });

  test('SPARSETRACE_DB points every command at a database', async () => {
    // In this process: the variable is read when a command runs, not when the CLI's modules load.
    const saved = process.env.SPARSETRACE_DB;
    process.env.SPARSETRACE_DB = join(folder.path, 'elsewhere', 'named.sqlite');
    try {
      const status = await cliHere(['status', '--format', 'json']);
      assert.equal(status.code, 0, status.stderr);
      assert.equal((JSON.parse(status.stdout) as { jobs: { name: string }[] }).jobs[0].name, 'named-db');
    } finally {
      if (saved === undefined) delete process.env.SPARSETRACE_DB;
      else process.env.SPARSETRACE_DB = saved;
    }
  });
});
