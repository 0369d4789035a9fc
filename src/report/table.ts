/** A titled table of already-formatted cells, rendered as text, Markdown or CSV. */
export interface Table {
  readonly title?: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly string[])[];
  /** Columns to right-align in text (numbers). Default: all but the first. */
  readonly alignRight?: readonly boolean[];
}

export function renderText(table: Table): string {
  const widths = table.columns.map((column, k) => Math.max(column.length, ...table.rows.map((row) => (row[k] ?? '').length)));
  const right = table.alignRight ?? table.columns.map((_, k) => k > 0);
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, k) => (right[k] ? cell.padStart(widths[k]) : cell.padEnd(widths[k])))
      .join('  ')
      .trimEnd();
  const out = [line(table.columns), widths.map((w) => '-'.repeat(w)).join('  '), ...table.rows.map(line)];
  return (table.title ? `${table.title}\n` : '') + out.join('\n') + '\n';
}

export function renderMarkdown(table: Table): string {
  const right = table.alignRight ?? table.columns.map((_, k) => k > 0);
  const escape = (cell: string): string => cell.replace(/\|/g, '\\|');
  const line = (cells: readonly string[]): string => `| ${cells.map(escape).join(' | ')} |`;
  const rule = `|${right.map((r) => (r ? ' ---: ' : ' --- ')).join('|')}|`;
  return (table.title ? `### ${table.title}\n\n` : '') + [line(table.columns), rule, ...table.rows.map(line)].join('\n') + '\n';
}

/** RFC 4180 quoting: only where a cell needs it. */
export function csvCell(value: unknown): string {
  const text = value === null || value === undefined ? '' : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function renderCsv(table: Table): string {
  return [table.columns, ...table.rows].map((cells) => cells.map(csvCell).join(',')).join('\n') + '\n';
}
