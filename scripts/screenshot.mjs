// Screenshot of an HTML page in headless Chromium: node scripts/screenshot.mjs PAGE.html OUT.png [width]
// The whole page goes to OUT.png, and pieces of at most 1400 px to OUT-1.png, OUT-2.png, … (easier to look at).
// (for looking at `report --format html` output; needs /usr/bin/chromium and puppeteer-core).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import puppeteer from 'puppeteer-core';

const [page, output, width = '1100'] = process.argv.slice(2);
if (!page || !output) {
  console.error('usage: node scripts/screenshot.mjs PAGE.html OUT.png [width]');
  process.exit(2);
}
const profile = mkdtempSync(join(tmpdir(), 'sparsetrace-chromium-'));
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`],
});
try {
  const tab = await browser.newPage();
  await tab.setViewport({ width: Number(width), height: 900 });
  await tab.goto(pathToFileURL(resolve(page)).href, { waitUntil: 'load' });
  await tab.screenshot({ path: output, fullPage: true });
  const height = await tab.evaluate(() => document.documentElement.scrollHeight);
  for (let y = 0, k = 1; y < height; y += 1400, k++) {
    await tab.screenshot({ path: output.replace(/\.png$/, `-${k}.png`), clip: { x: 0, y, width: Number(width), height: Math.min(1400, height - y) }, captureBeyondViewport: true });
  }
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
