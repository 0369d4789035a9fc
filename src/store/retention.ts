import { PAGE_TAU } from '../page.js';
import type { PatternClass } from '../engine/index.js';
import { codePointsOf, decodeCodePoints } from './codePoints.js';
import type { Db } from './db.js';
import { floats } from './functions.js';
import { perConnection } from './statements.js';

/**
 * Retention: what a run kept as `summaries` keeps once it is done. Its
 * per-position rows and its pattern peaks go; its summaries, its jobs' rollups
 * (written before) and, per pattern, one bit stay: whether it is active at
 * the page's τ (PAGE_TAU) somewhere in the run, so that never-active patterns at
 * that τ still add up over any selection of runs (`run_page_patterns`: six bits
 * per element of a code point array, one byte per six patterns).
 */
export { PAGE_TAU };

/** The per-position tables, which a run kept as `summaries` drops once done (children first). */
export const POSITION_TABLES = ['count_blocks', 'shard_depth', 'position_rows', 'depth_rows'] as const;

const BITS = 6;

const statementsOf = perConnection((db: Db) => ({
    peaks: db.prepare(`SELECT class, row, peaks FROM pattern_peak_rows WHERE run_key = ?`),
    insertPage: db.prepare(`INSERT OR REPLACE INTO run_page_patterns (run_key, class, row, active) VALUES (?, ?, ?, ?)`),
    drops: POSITION_TABLES.map((table) => db.prepare(`DELETE FROM ${table} WHERE run_key = ?`)),
    dropPeaks: db.prepare(`DELETE FROM pattern_peak_rows WHERE run_key = ?`),
    dropFrequency: db.prepare(`DELETE FROM pattern_frequency_rows WHERE run_key = ?`),
    page: db.prepare(`SELECT class, row, active FROM run_page_patterns WHERE run_key = ?`),
}));

/** Drops a done run's per-position rows (its peaks stay until its jobs' rollups have them). Inside the caller's transaction. */
export function dropPositionRows(db: Db, runKey: number): void {
  for (const drop of statementsOf(db).drops) drop.run(runKey);
}

/** Drops a done run's per-position rows, peaks and own frequency rows, keeping its patterns active at PAGE_TAU. Inside the caller's transaction. */
export function keepSummariesOnly(db: Db, runKey: number): void {
  const s = statementsOf(db);
  const threshold = Math.fround(PAGE_TAU);
  for (const row of s.peaks.all(runKey) as { class: PatternClass; row: number; peaks: Buffer }[]) {
    const values = floats(row.peaks);
    const packed = new Uint8Array(Math.ceil(values.length / BITS));
    for (let k = 0; k < values.length; k++) if (values[k] > threshold) packed[Math.floor(k / BITS)] |= 1 << k % BITS;
    s.insertPage.run(runKey, row.class, row.row, codePointsOf(packed));
  }
  for (const drop of s.drops) drop.run(runKey);
  s.dropPeaks.run(runKey);
  // Its cohorts hold its frequencies now (rollups.ts, cohortFrequency.ts): about 58 KB a run it no longer needs.
  s.dropFrequency.run(runKey);
}

/** A summaries run's patterns active at PAGE_TAU, per (class, row): `length` flags from the stored bits. */
export function* pagePatterns(db: Db, runKey: number, lengthOf: (cls: PatternClass) => number): IterableIterator<{ cls: PatternClass; row: number; active: Uint8Array }> {
  for (const row of statementsOf(db).page.iterate(runKey) as Iterable<{ class: PatternClass; row: number; active: Buffer }>) {
    const length = lengthOf(row.class);
    const packed = decodeCodePoints(row.active, Math.ceil(length / BITS));
    const active = new Uint8Array(length);
    for (let k = 0; k < length; k++) active[k] = (packed[Math.floor(k / BITS)] >> k % BITS) & 1;
    yield { cls: row.class, row: row.row, active };
  }
}
