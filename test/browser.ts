import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser, type BrowserContext } from 'puppeteer-core';

/** Debian's Chromium (`apt-get install chromium`; .ci/run installs it when missing). */
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A headless Chromium on a fresh profile, and how to close it and remove the profile. */
async function launch(): Promise<{ browser: Browser; close: () => Promise<void> }> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM}: no Chromium; install it with \`apt-get install -y chromium\` (or set CHROMIUM)`);
  const profile = mkdtempSync(join(tmpdir(), 'sparsetrace-chromium-'));
  const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: [...FLAGS, `--user-data-dir=${profile}`] });
  return {
    browser,
    close: async () => {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Runs `body` with a headless Chromium on a fresh profile; the browser is closed and the profile removed afterwards. */
export async function withBrowser<T>(body: (browser: Browser) => Promise<T>): Promise<T> {
  const { browser, close } = await launch();
  try {
    return await body(browser);
  } finally {
    await close();
  }
}

/**
 * One Chromium for the pages of a test file, launched at the first page: each
 * use gets a browser context of its own (storage, cache and cookies isolated,
 * as on a fresh profile), closed after it. Chromium starts once, not per page;
 * `close` (in the file's after()) ends it.
 */
export function sharedBrowser(): { withContext<T>(body: (context: BrowserContext) => Promise<T>): Promise<T>; close(): Promise<void> } {
  let launched: ReturnType<typeof launch> | undefined;
  return {
    async withContext(body) {
      launched ??= launch();
      const context = await (await launched).browser.createBrowserContext();
      try {
        return await body(context);
      } finally {
        await context.close();
      }
    },
    async close() {
      if (launched !== undefined) await (await launched).close();
    },
  };
}
