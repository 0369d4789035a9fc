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

/** The sections of a report, in page order (`--sections`). */
export type ReportSection = 'summary' | 'sparsity' | 'classes' | 'never' | 'depth' | 'surprise' | 'frequency';
/** The sections a report prints by default: its figures from the summaries. */
export const REPORT_SECTIONS: readonly ReportSection[] = ['summary', 'sparsity', 'classes', 'never', 'depth'];
/**
 * Every section: the default ones, `surprise`, which reads every position, and
 * `frequency` (activation frequency, from the runs' stored frequencies), asked for by name or `all`.
 */
export const ALL_SECTIONS: readonly ReportSection[] = [...REPORT_SECTIONS, 'surprise', 'frequency'];

/**
 * `--sections all`, `overview` (a grouped report's one row per group and τ) or a
 * list such as `sparsity,depth`. Returns a message for an unknown section.
 */
export function parseSections(value: string | undefined): ReportSection[] | 'overview' | undefined | string {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (text === 'overview') return 'overview';
  if (text === 'all') return [...ALL_SECTIONS];
  const sections: ReportSection[] = [];
  for (const raw of text.split(',')) {
    const name = raw.trim();
    if (!(ALL_SECTIONS as readonly string[]).includes(name)) return `--sections: ${JSON.stringify(name)} is not a section (all, overview, or some of ${ALL_SECTIONS.join(', ')})`;
    if (!sections.includes(name as ReportSection)) sections.push(name as ReportSection);
  }
  // In page order, whatever order they were named in.
  return ALL_SECTIONS.filter((section) => sections.includes(section));
}
