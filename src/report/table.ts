/** A titled table of already-formatted cells, rendered as text, Markdown or CSV. */
export interface Table {
  readonly title?: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly string[])[];
  /** Columns to right-align in text (numbers). Default: all but the first. */
  readonly alignRight?: readonly boolean[];
}

/** Column widths: the widest of the header and the given rows (a loop: rows are never spread into arguments). */
export function columnWidths(columns: readonly string[], rows: Iterable<readonly string[]>): number[] {
  const widths = columns.map((column) => column.length);
  for (const row of rows) {
    for (let k = 0; k < widths.length; k++) widths[k] = Math.max(widths[k], (row[k] ?? '').length);
  }
  return widths;
}

/** Text lines of fixed-width columns; a cell wider than its column (past the sample) just pushes the line. */
export function textLine(cells: readonly string[], widths: readonly number[], right: readonly boolean[]): string {
  return cells
    .map((cell, k) => (right[k] ? cell.padStart(widths[k]) : cell.padEnd(widths[k])))
    .join('  ')
    .trimEnd();
}

export function renderText(table: Table): string {
  return renderTextWithWidths(table, columnWidths(table.columns, table.rows));
}

/** renderText with the columns' widths set by the caller, from a sample of a table streamed in parts. */
export function renderTextWithWidths(table: Table, widths: readonly number[]): string {
  const right = table.alignRight ?? table.columns.map((_, k) => k > 0);
  const out = [textLine(table.columns, widths, right), widths.map((w) => '-'.repeat(w)).join('  '), ...table.rows.map((row) => textLine(row, widths, right))];
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
