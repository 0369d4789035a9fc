// Records what was built into dist/build-info.json: the git commit of the sources
// (and whether they had uncommitted changes), so `sparsetrace --version` and every
// run's tool_version say which code computed it. Outside a git checkout (a
// tarball) there is no commit: the version is package.json's alone.
// Run by `npm run build`.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const git = (...args) => execFileSync('git', ['-C', root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
let commit = null;
let dirty = false;
try {
  commit = git('rev-parse', '--short=12', 'HEAD');
  // Changes to tracked files under src/ count: those are what the tool runs.
  dirty = git('status', '--porcelain', '--untracked-files=no', '--', 'src', 'package.json') !== '';
} catch {
  commit = null;
}
mkdirSync(join(root, 'dist'), { recursive: true });
writeFileSync(join(root, 'dist', 'build-info.json'), `${JSON.stringify({ commit, dirty })}\n`);
