/** Logs and progress go to stderr; data goes to stdout. */
export function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

export function out(text: string): void {
  process.stdout.write(text);
}
