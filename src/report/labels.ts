/**
 * Short, distinct labels for the groups of a page: every file path in a label
 * is cut to its shortest trailing part (file name, then parent folders as
 * needed) that still tells it from every other path on the page, so
 * "/tmp/a/sweep/enwik_1024.txt@0+1024 · 50" reads "enwik_1024.txt@0+1024 · 50".
 */
const PATH = /\/(?:[^/\s@·()]+\/)*[^/\s@·()]+/g;

export function shortLabels(labels: readonly string[]): string[] {
  const paths = [...new Set(labels.flatMap((label) => label.match(PATH) ?? []))];
  const short = new Map<string, string>();
  for (const path of paths) {
    const parts = path.split('/').filter((part) => part !== '');
    let take = 1;
    // Longer suffixes until no other path ends the same way.
    while (take < parts.length && paths.some((other) => other !== path && endsWithParts(other, parts.slice(-take)))) take++;
    short.set(path, parts.slice(-take).join('/'));
  }
  return labels.map((label) => label.replace(PATH, (path) => short.get(path) ?? path));
}

function endsWithParts(path: string, tail: readonly string[]): boolean {
  const parts = path.split('/').filter((part) => part !== '');
  return tail.length <= parts.length && tail.every((part, k) => parts[parts.length - tail.length + k] === part);
}

/** A byte as people read it: the character when printable ASCII, else its code (explain, the text page, the frequency section). */
export function byteLabel(byte: number): string {
  if (byte === 0x20) return "' '";
  if (byte > 0x20 && byte < 0x7f) return `'${String.fromCharCode(byte)}'`;
  if (byte === 0x0a) return "'\\n'";
  return `0x${byte.toString(16).padStart(2, '0')}`;
}
