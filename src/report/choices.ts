/**
 * The values `report --format` and `--by` offer. No imports: the CLI's option
 * definitions (cli/commands.ts) take them without loading the report code.
 */
export type ReportFormat = 'text' | 'json' | 'md' | 'csv';
export const REPORT_FORMATS: readonly ReportFormat[] = ['text', 'json', 'md', 'csv'];

export type Grouping = 'model' | 'window' | 'dmax';
export const GROUPINGS: readonly Grouping[] = ['model', 'window', 'dmax'];
