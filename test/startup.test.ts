/**
 * Start-up: --help and --version load the command table and yargs, nothing else;
 * each command loads what it runs (commands.ts: a handler imports its command's
 * file), so reading commands never load the worker pool, the queue or the charts.
 * Checked on the modules tsc compiles (dist/src, which the bundle is cut from at
 * each lazy import) and, for the packages it loads, on the bundle bin/ runs.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cliHere, PROJECT_ROOT, SHARED_DATA, SHARED_MODEL, temporaryFolder } from './cli.js';

const folder = temporaryFolder('startup');
after(() => folder.remove());
const db = join(folder.path, 'small.sqlite');
const BIN = join(PROJECT_ROOT, 'bin', 'sparsetrace.js');
/** The CLI as tsc compiles it, module by module (bin/ runs the bundle made from it). */
const MODULES_ENTRY = join(PROJECT_ROOT, 'dist', 'src', 'cli', 'main.js');
const HOOKS = pathToFileURL(join(PROJECT_ROOT, 'dist', 'test', 'module-trace.js')).href;

/**
 * What a CLI invocation loads: npm packages by name, and this project's modules
 * by path under src/ (of the unbundled CLI; with the bundle, only packages).
 */
function loads(args: readonly string[], entry = MODULES_ENTRY): { packages: Set<string>; modules: Set<string> } {
  const trace = join(folder.path, 'modules.txt');
  rmSync(trace, { force: true });
  const register = `data:text/javascript,import { register } from 'node:module'; register(${JSON.stringify(HOOKS)});`;
  const result = spawnSync(process.execPath, ['--import', register, entry, ...args], {
    cwd: PROJECT_ROOT,
    encoding: 'utf8',
    env: { ...process.env, SPARSETRACE_TRACE_MODULES: trace },
  });
  assert.equal(result.status, 0, result.stderr);
  const urls = readFileSync(trace, 'utf8').split('\n').filter((line) => line !== '');
  const packages = new Set(urls.flatMap((url) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1] ?? []));
  const modules = new Set(urls.flatMap((url) => /\/dist\/src\/(.+)\.js$/.exec(url)?.[1] ?? []));
  const bundleFiles = urls.filter((url) => url.includes('/dist/bundle/')).length;
  if (entry === MODULES_ENTRY) assert.ok(modules.has('cli/main'), `the trace sees the CLI's modules: ${urls.join(' ')}`);
  else assert.ok(bundleFiles > 0 && modules.size === 0, `bin/ runs the bundle: ${urls.join(' ')}`);
  return { packages, modules };
}

const HEAVY = ['better-sqlite3', 'piscina', 'cli-progress', 'bullmq', 'ioredis', 'vega', 'vega-lite'];

describe('what a command loads', () => {
  before(async () => {
    const run = await cliHere(['run', '--model', SHARED_MODEL, '--data', SHARED_DATA, '--length', '40', '--tau', '0.01', '--db', db, '--no-report']);
    assert.equal(run.code, 0, run.stderr);
  });

  test('--version and --help: yargs and the command table only', () => {
    for (const args of [['--version'], ['--help'], ['report', '--help'], ['run', '--help']]) {
      const { packages, modules } = loads(args);
      for (const name of HEAVY) assert.ok(!packages.has(name), `${args.join(' ')} loads ${name}`);
      const bundled = loads(args, BIN);
      for (const name of HEAVY) assert.ok(!bundled.packages.has(name), `${args.join(' ')} loads ${name} from the bundle`);
      // Light modules of constants the command table offers as choices (engine/computation: the rules' names; it imports nothing).
      const ours = [...modules].filter((path) => /^(store|engine|runner|report|queue|model|plan|inputs)\//.test(path) && path !== 'report/choices' && path !== 'queue/protocol' && path !== 'engine/computation');
      assert.deepEqual(ours, [], `${args.join(' ')} loads only the command table`);
    }
  });

  test('report, sql and status read the database without the worker pool, the queue or the charts', () => {
    for (const args of [['report'], ['sql', 'SELECT count(*) FROM runs'], ['status']]) {
      const { packages, modules } = loads([...args, '--db', db]);
      assert.ok(packages.has('better-sqlite3'), `${args[0]} opens the database`);
      for (const name of ['piscina', 'bullmq', 'ioredis', 'vega', 'vega-lite']) assert.ok(!packages.has(name), `${args[0]} loads ${name}`);
      assert.ok(!modules.has('runner/execute'), `${args[0]} loads the runner`);
      const bundled = loads([...args, '--db', db], BIN);
      assert.ok(bundled.packages.has('better-sqlite3'), `${args[0]} opens the database from the bundle`);
      for (const name of ['piscina', 'bullmq', 'ioredis', 'vega', 'vega-lite']) assert.ok(!bundled.packages.has(name), `${args[0]} loads ${name} from the bundle`);
    }
  });

  test('report --format html loads the charts (vega), and not the worker pool', () => {
    for (const entry of [MODULES_ENTRY, BIN]) {
      const { packages } = loads(['report', '--format', 'html', '--db', db, '--out', join(folder.path, 'page.html')], entry);
      assert.ok(packages.has('vega') && packages.has('vega-lite'));
      assert.ok(!packages.has('piscina') && !packages.has('bullmq'));
    }
  });
});
