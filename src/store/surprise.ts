import type { Db } from './db.js';
import { planSelection, type Runs } from './selection.js';
import { perConnection } from './statements.js';

/**
 * The store's side of "sparsity against surprise" (report/surprise.ts): a
 * selection's stored positions, shard by shard, and their count blocks at one τ.
 * Runs kept as summaries have neither. Every position of a shard has its
 * `position_rows` row and its element of the shard's count blocks, written in
 * one transaction, so the two line up by (run, shard start, t − start).
 */

/**
 * The surprisal bins, in bits: bin k holds LOWER[k] ≤ s < LOWER[k + 1], the last
 * s ≥ 8; the first also holds anything below 0.01 (a surprisal of −0).
 */
export const SURPRISAL_BIN_LOWER = [0, 0.01, 0.1, 1, 2, 4, 8] as const;

/** SQL: the bin (0 … 6) of `surprisal`, as SURPRISAL_BIN_LOWER cuts it (docs/schema.md shows it). */
export function surprisalBinSql(surprisal: string): string {
  const cases = SURPRISAL_BIN_LOWER.slice(1).map((lower, k) => `WHEN ${surprisal} < ${lower} THEN ${k}`);
  return `CASE ${cases.join(' ')} ELSE ${SURPRISAL_BIN_LOWER.length - 1} END`;
}

/** A committed shard of a selected run. */
export interface SelectedShard {
  readonly run_key: number;
  readonly start: number;
  readonly count: number;
}

/** A count block at one τ: the counts of a shard's positions, code point arrays. */
export interface SelectedCountBlock {
  readonly run_key: number;
  readonly start: number;
  readonly count: number;
  readonly n_x: Buffer;
  readonly n_h: Buffer;
  readonly n_y: Buffer;
}

const statements = perConnection((db: Db) => ({
  /** The shards of the selected runs that kept their positions, in selection order then start. */
  shards: db.prepare(
    `SELECT sh.run_key, sh.start, sh.count FROM json_each(@keys) k JOIN shards sh ON sh.run_key = k.value
     WHERE EXISTS (SELECT 1 FROM position_rows p WHERE p.run_key = sh.run_key AND p.t = sh.start)
     ORDER BY k.key, sh.start`,
  ),
  /** One shard's surprisals in order of t. */
  surprisals: db.prepare(`SELECT surprisal_bits FROM position_rows WHERE run_key = ? AND t >= ? AND t < ? ORDER BY t`).pluck(),
  /** One run's first positions, by t. */
  positionRows: db.prepare(
    `SELECT p.run_key, p.t, p.y, p.surprisal_bits FROM runs r JOIN position_rows p USING (run_key) WHERE r.run_id = ? AND p.t < ? ORDER BY p.t`,
  ),
  /** One run's count blocks at one τ (as the float32 compared). */
  blocks: db.prepare(
    `SELECT b.run_key, b.start, b.count, b.n_x, b.n_h, b.n_y FROM count_blocks b JOIN run_taus rt USING (run_key, tau_index)
     WHERE b.run_key = ? AND rt.tau_f32 = ?`,
  ),
}));

/** The run keys of a selection (cohorts' members included), in the selection's order, as the queries bind them. */
export function selectionRunKeys(db: Db, runs: Runs): number[] {
  const plan = planSelection(db, runs);
  return [...plan.cohorts.flatMap((cohort) => cohort.members().map((run) => run.run_key)), ...plan.runs.map((run) => run.run_key)];
}

/** The shards of `runKeys` whose positions are stored, in order. */
export function storedShards(db: Db, runKeys: readonly number[]): SelectedShard[] {
  return statements(db).shards.all({ keys: JSON.stringify(runKeys) }) as SelectedShard[];
}

/** A shard's surprisals (bits), by t. */
export function shardSurprisals(db: Db, shard: SelectedShard): number[] {
  return statements(db).surprisals.all(shard.run_key, shard.start, shard.start + shard.count) as number[];
}

/** A run's count blocks at τ (the float32 compared), streamed. */
export function runCountBlocks(db: Db, runKey: number, tauF32: number): IterableIterator<SelectedCountBlock> {
  return statements(db).blocks.iterate(runKey, tauF32) as IterableIterator<SelectedCountBlock>;
}

/** A stored position of one run. */
export interface PositionRow {
  readonly run_key: number;
  readonly t: number;
  readonly y: number;
  readonly surprisal_bits: number;
}

/** The stored positions t < `limit` of a run, by t (none for a run kept as summaries). */
export function runPositionRows(db: Db, runId: string, limit: number): PositionRow[] {
  return statements(db).positionRows.all(runId, limit) as PositionRow[];
}
