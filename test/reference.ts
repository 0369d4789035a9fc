import { readFileSync } from 'node:fs';
import { REFERENCE_JSON } from './paths.js';

/** The published run-level figures (shared/reference/q1-sat_model-enwik_1024.json). */
export interface PublishedFigures {
  significant: { wx: number; wh: number; wy: number; total: number };
  sparsity: { tau: number; mean: number; median: number; min: number; max: number; fraction: number }[];
  classes: { tau: number; mean_wx: number; mean_wh: number; mean_wy: number }[];
  never_active: Record<'wx' | 'wh' | 'wy' | 'total', { never: number; of: number }>;
  depth: { d: number; mean_mass: number; fraction: number }[];
  positions: number;
  bpc: number;
}

export function publishedFigures(): PublishedFigures {
  return JSON.parse(readFileSync(REFERENCE_JSON, 'utf8')) as PublishedFigures;
}

/** `value` as printed with `decimals` decimals, the precision of the published figures. */
export const printed = (value: number, decimals: number): number => Number(value.toFixed(decimals));
