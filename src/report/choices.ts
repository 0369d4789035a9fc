/**
 * The values `report --format` and `--by` offer. No imports: the CLI's option
 * definitions (cli/commands.ts) take them without loading the report code.
 */
export type ReportFormat = 'text' | 'json' | 'md' | 'csv';
export const REPORT_FORMATS: readonly ReportFormat[] = ['text', 'json', 'md', 'csv'];

export type Grouping = 'model' | 'data' | 'window' | 'dmax' | 'job';
export const GROUPINGS: readonly Grouping[] = ['model', 'data', 'window', 'dmax', 'job'];

/**
 * `--by window,dmax` and `--by window --by dmax` alike: the keys in the order
 * given, each once. Returns a message for an unknown key.
 */
export function parseGroupings(values: readonly string[] | string | undefined): Grouping[] | string {
  const list = (Array.isArray(values) ? values : values === undefined ? [] : [values]).flatMap((value: string) => value.split(','));
  const keys: Grouping[] = [];
  for (const raw of list) {
    const key = raw.trim();
    if (!(GROUPINGS as readonly string[]).includes(key)) return `--by: ${JSON.stringify(key)} is not a key (keys: ${GROUPINGS.join(', ')}; several: --by window,dmax)`;
    if (!keys.includes(key as Grouping)) keys.push(key as Grouping);
  }
  return keys;
}
