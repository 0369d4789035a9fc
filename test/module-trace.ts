/**
 * Module hooks for test/startup.test.ts: appends the URL of every module the
 * process loads (ES modules, and the entry of each CommonJS package imported
 * from one) to the file named by SPARSETRACE_TRACE_MODULES. Registered with
 * `node --import` (see startup.test.ts); runs on the hooks thread.
 */
import { appendFileSync } from 'node:fs';

type NextLoad = (url: string, context: unknown) => Promise<unknown>;

export async function load(url: string, context: unknown, nextLoad: NextLoad): Promise<unknown> {
  const result = await nextLoad(url, context);
  const file = process.env.SPARSETRACE_TRACE_MODULES;
  if (file !== undefined) appendFileSync(file, `${url}\n`);
  return result;
}
