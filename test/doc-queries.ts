import { readFileSync } from 'node:fs';

/** The marker, on a line before an example, for a query that needs sparsetrace's SQL functions. */
export const SPARSETRACE_ONLY = '<!-- sparsetrace sql only -->';

export interface DocQuery {
  /** `README.md:123`: where the query starts. */
  readonly where: string;
  readonly sql: string;
  /** Marked `<!-- sparsetrace sql only -->`: not meant for other SQLite clients. */
  readonly sparsetraceOnly: boolean;
}

/**
 * The example queries of a Markdown file:
 * - every fenced block whose info string is `sql`, whole;
 * - in fenced `sh`/`bash`/`shell`/`console` blocks, the quoted query of every
 *   `sparsetrace sql "…"` (also `npx sparsetrace`, `node bin/sparsetrace.js`)
 *   and `sqlite3 … "…"` command, which may span lines;
 * - in inline code, the same commands (`sql "SELECT …"` too).
 * The marker applies to inline commands after it on its own line, if there
 * are any; else to the next fenced block (with only prose between).
 */
export function docQueries(path: string, name = path): DocQuery[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const queries: DocQuery[] = [];
  let marked = false;
  for (let k = 0; k < lines.length; k++) {
    const line = lines[k];
    const fence = /^\s*(`{3,}|~{3,})\s*([\w-]*)/.exec(line);
    if (fence) {
      const [, mark, info] = fence;
      const start = k + 1;
      let end = start;
      while (end < lines.length && !lines[end].trimStart().startsWith(mark)) end++;
      const body = lines.slice(start, end).join('\n');
      const sparsetraceOnly = marked;
      marked = false;
      if (info.toLowerCase() === 'sql') {
        if (body.trim() !== '') queries.push({ where: `${name}:${start + 1}`, sql: body.trim(), sparsetraceOnly });
      } else if (['sh', 'bash', 'shell', 'console'].includes(info.toLowerCase())) {
        for (const { offset, sql } of commandQueries(body)) {
          const lineNumber = start + 1 + body.slice(0, offset).split('\n').length - 1;
          queries.push({ where: `${name}:${lineNumber}`, sql, sparsetraceOnly });
        }
      }
      k = end;
      continue;
    }
    const markerAt = line.indexOf(SPARSETRACE_ONLY);
    let markerUsed = false;
    for (const span of line.matchAll(/`([^`]+)`/g)) {
      for (const { sql } of commandQueries(span[1])) {
        const sparsetraceOnly = markerAt >= 0 && markerAt < (span.index ?? 0);
        markerUsed ||= sparsetraceOnly;
        queries.push({ where: `${name}:${k + 1}`, sql, sparsetraceOnly });
      }
    }
    if (markerAt >= 0 && !markerUsed) marked = true;
  }
  return queries;
}

/** The double-quoted queries of `sparsetrace sql "…"` and `sqlite3 … "…"` commands in shell text. */
function commandQueries(text: string): { offset: number; sql: string }[] {
  const found: { offset: number; sql: string }[] = [];
  const command = /(?:^|[\s;|&(`])(?:(?:npx\s+)?sparsetrace\s+sql|node\s+bin\/sparsetrace\.js\s+sql|sql|sqlite3)\b((?:\s+(?:-[\w-]+(?:[ =](?!")[^\s"]+)?|(?!")[^\s"-][^\s"]*))*)\s+"((?:[^"\\]|\\.)*)"/g;
  for (const match of text.matchAll(command)) {
    const sql = match[2].replace(/\\([\\"$`])/g, '$1').replace(/\\\n/g, '\n').trim();
    if (/^(SELECT|WITH|VALUES|PRAGMA|EXPLAIN)\b/i.test(sql)) found.push({ offset: (match.index ?? 0) + match[0].search(/\S/), sql });
  }
  return found;
}
