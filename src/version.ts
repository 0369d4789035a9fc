import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** package.json's version: the schema and CLI release (0.1.0 is the first schema's, see docs/schema.md). */
const PACKAGE_VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/**
 * This checkout's launcher, bin/sparsetrace.js, found from this module (dist/src and
 * dist/bundle sit equally deep), not from process.argv: a command run in-process
 * (tests, runCommandLine) has another script there.
 */
export const CLI_LAUNCHER: string = fileURLToPath(new URL('../../bin/sparsetrace.js', import.meta.url));

/** What `npm run build` recorded (scripts/build-info.mjs): the git commit built, and whether src/ had uncommitted changes. */
function buildInfo(): { commit: string | null; dirty: boolean } {
  try {
    return JSON.parse(readFileSync(new URL('../build-info.json', import.meta.url), 'utf8')) as { commit: string | null; dirty: boolean };
  } catch {
    return { commit: null, dirty: false };
  }
}

/**
 * This tool's version, as `--version` prints it and every run records it
 * (runs.tool_version): the package version, then (semver build metadata) the
 * git commit it was built from, and ".dirty" if its sources had uncommitted
 * changes: 0.2.0+1a2b3c4d5e6f. Without git at build time, the package version alone.
 */
export const TOOL_VERSION: string = (() => {
  const { commit, dirty } = buildInfo();
  return commit ? `${PACKAGE_VERSION}+${commit}${dirty ? '.dirty' : ''}` : PACKAGE_VERSION;
})();
