import type Database from 'better-sqlite3';
import { frequencyLength, type PatternClass } from '../engine/index.js';
import { BulkInsert } from './bulk.js';
import { FREQUENCY_TAUS } from '../page.js';
import { codePointsOf, decodeCodePoints } from './codePoints.js';
import { frequencyRowAt, frequencyRowCount, frequencyRowOffset, frequencyRows } from './frequencyLayout.js';
import type { Db } from './db.js';
import { InputError } from '../errors.js';
import type { CohortKey } from './cohorts.js';
import { planSelection, type Runs } from './selection.js';
import { perConnection } from './statements.js';

type Statement = Database.Statement<unknown[]>;

/**
 * Activation frequencies (schema 7): per run, frequency τ and pattern, the
 * positions where the pattern is active, as the counts decide it (the engine
 * counts them with the counts' comparisons: trace.wat). Each shard's own
 * frequencies are written in the shard's transaction (`frequency_in_progress`:
 * small counts, one byte each, only rows with a pattern active), so a killed run
 * resumes to the same sums; when the run is done they are added up into
 * `pattern_frequency_rows`: per (class, row) with any
 * pattern active, a code point array of H counts, so they add up over any
 * selection of runs, in plain SQL too (the `pattern_frequency` view).
 */

export { frequencyRowOffset, frequencyRows } from './frequencyLayout.js';

const statementsOf = perConnection((db: Db) => ({
  runFrequency: db.prepare(`SELECT tau_index, tau, positions FROM run_frequency WHERE run_key = ?`),
  rows: db.prepare(`SELECT class, row, positions FROM frequency_in_progress WHERE run_key = ? AND tau_index = ?`),
  shardRows: new BulkInsert(db, 'frequency_in_progress', ['run_key', 'tau_index', 'start', 'class', 'row', 'positions']),
  shardCount: db.prepare(`SELECT count(*) FROM shards WHERE run_key = ?`).pluck(),
  insertRun: db.prepare(`INSERT INTO run_frequency (run_key, tau_index, tau, tau_f32, positions) VALUES (?, ?, ?, ?, 0)`),
  addPositions: db.prepare(`UPDATE run_frequency SET positions = positions + ? WHERE run_key = ? AND tau_index = ?`),
  deleteInProgress: db.prepare(`DELETE FROM frequency_in_progress WHERE run_key = ?`),
  deleteRows: db.prepare(`DELETE FROM pattern_frequency_rows WHERE run_key = ?`),
  runRows: new BulkInsert(db, 'pattern_frequency_rows', ['run_key', 'tau_index', 'class', 'row', 'positions']),
}));

/** One τ of a run's frequencies, summed so far. */
interface RunFrequencyAt {
  readonly tauIndex: number;
  /** Undefined while they are all 0 and no shard was added: a fresh run's first shard's counts become the sums without adding them to zeros. */
  counts: Uint32Array | undefined;
}

/**
 * A run's frequencies as its writer adds shards to them: loaded from the store on
 * the first shard (a resumed run goes on from its committed shards), or begun at
 * zero for a run with no shard yet. A run that has shards but no frequencies was
 * begun before schema 7: it gets none (its first positions were never counted).
 */
export class RunFrequencies {
  /** Per FREQUENCY_TAUS index, the run's sums; undefined until loaded; null for a τ the run does not count. */
  private sums: (RunFrequencyAt | null)[] | undefined;
  /** Whether the sums began at zero when loaded (no shard of the run was stored then). */
  private fresh = false;
  /** Shards added since the sums were loaded; the first one's rows while the transaction that finishes the run with it runs. */
  private shards = 0;
  private firstRows: readonly (readonly (Buffer | null)[])[] | undefined;

  constructor(
    private readonly db: Db,
    private readonly runKey: number,
    private readonly hidden: number,
  ) {}

  /**
   * Within the shard's transaction, before its shard row is written: writes the
   * shard's frequency rows, encoded beforehand (`rows`: per FREQUENCY_TAUS, per
   * row, its code point array or null; ShardRows), and adds its frequencies
   * (FREQUENCY_TAUS order) to the run's. The caller forgets the sums (release())
   * if the transaction fails. `last`: finish() follows in the same transaction.
   * Nothing of `frequency` or `rows` is kept past that transaction: they may be
   * views on a buffer that takes the next shard (resultSlots.ts).
   */
  addShard(frequency: Uint32Array | undefined, rows: readonly (readonly (Buffer | null)[])[], start: number, positions: number, last = false): void {
    const s = statementsOf(this.db);
    const length = frequencyLength(this.hidden);
    const sums = this.load();
    // A shard traced without frequencies leaves the run's count short of its positions: no frequency is shown for it.
    if (frequency === undefined || frequency.length === 0) return;
    if (frequency.length !== FREQUENCY_TAUS.length * length || rows.length !== FREQUENCY_TAUS.length) {
      throw new RangeError(`a shard of run key ${this.runKey} with ${frequency?.length ?? 0} frequencies, expected ${FREQUENCY_TAUS.length * length}`);
    }
    this.shards++;
    this.firstRows = this.shards === 1 && last ? rows : undefined;
    // The run's only shard, finished in its transaction (RunWriter.commit's `last`): finish() writes its rows as the run's, none in progress.
    const inProgress = !(last && this.fresh && this.shards === 1);
    for (let k = 0; k < sums.length; k++) {
      const sum = sums[k];
      if (sum === null) continue;
      const shard = frequency.subarray(k * length, (k + 1) * length);
      const counts = sum.counts;
      // The first shard's counts are the sums: the run's only one is held as it is (finish() and the held rollups only read it), else copied, as the next shards add to it.
      if (counts === undefined) sum.counts = inProgress ? shard.slice() : shard;
      else for (let p = 0; p < length; p++) counts[p] += shard[p];
      if (inProgress) this.insertRows(s.shardRows, rows[k], [this.runKey, sum.tauIndex, start]);
      s.addPositions.run(positions, this.runKey, sum.tauIndex);
    }
  }

  /** Inserts the rows that are not null, each after `key`, its class and row. */
  private insertRows(bulk: BulkInsert, rows: readonly (Buffer | null)[], key: readonly number[]): void {
    if (rows.length !== frequencyRowCount(this.hidden)) throw new RangeError(`${rows.length} frequency rows for H = ${this.hidden}, expected ${frequencyRowCount(this.hidden)}`);
    for (let g = 0; g < rows.length; g++) {
      const blob = rows[g];
      if (blob === null) continue;
      const { cls, row } = frequencyRowAt(this.hidden, g);
      bulk.add(...key, cls, row, blob);
    }
    bulk.flush();
  }

  /**
   * When the run is done, in its last transaction: its shards' rows, added up,
   * go to pattern_frequency_rows, and frequency_in_progress forgets them.
   * Written once, in order, at the end of the table, the rows fill their pages.
   */
  finish(): void {
    const s = statementsOf(this.db);
    const sums = this.load();
    s.deleteInProgress.run(this.runKey);
    s.deleteRows.run(this.runKey);
    // A run of one shard, begun here: its sums are that shard's counts, whose rows are encoded already.
    const single = this.fresh && this.shards === 1 ? this.firstRows : undefined;
    for (let k = 0; k < sums.length; k++) {
      const sum = sums[k];
      if (sum === null) continue;
      if (single !== undefined) {
        this.insertRows(s.runRows, single[k], [this.runKey, sum.tauIndex]);
        continue;
      }
      const counts = countsOf(sum, this.hidden);
      for (const { cls, rows, offset } of frequencyRows(this.hidden)) {
        for (let row = 0; row < rows; row++) {
          const values = counts.subarray(offset + row * this.hidden, offset + (row + 1) * this.hidden);
          if (values.some((n) => n > 0)) s.runRows.add(this.runKey, sum.tauIndex, cls, row, codePointsOf(values));
        }
      }
      s.runRows.flush();
    }
  }

  /** The sums held, per run_frequency tau_index (none before they are loaded). */
  heldCounts(): Map<number, Uint32Array> {
    return new Map((this.sums ?? []).flatMap((sum) => (sum === null ? [] : [[sum.tauIndex, countsOf(sum, this.hidden)] as const])));
  }

  /** Lets go of the sums (a finished run's writer stays until the sweep ends). */
  release(): void {
    this.sums = undefined;
    this.firstRows = undefined;
    this.shards = 0;
  }

  private load(): (RunFrequencyAt | null)[] {
    if (this.sums !== undefined) return this.sums;
    const s = statementsOf(this.db);
    const stored = s.runFrequency.all(this.runKey) as { tau_index: number; tau: number; positions: number }[];
    const begun = (s.shardCount.get(this.runKey) as number) > 0;
    this.fresh = !begun;
    this.shards = 0;
    this.firstRows = undefined;
    this.sums = FREQUENCY_TAUS.map((tau, k) => {
      const row = stored.find((entry) => entry.tau === tau);
      if (row === undefined) {
        if (begun) return null;
        s.insertRun.run(this.runKey, k, tau, Math.fround(tau));
        return { tauIndex: k, counts: undefined };
      }
      // The shards committed so far, added up.
      const counts = new Uint32Array(frequencyLength(this.hidden));
      for (const entry of s.rows.all(this.runKey, row.tau_index) as { class: PatternClass; row: number; positions: Buffer }[]) {
        const values = decodeCodePoints(entry.positions, this.hidden);
        const offset = frequencyRowOffset(this.hidden, entry.class, entry.row);
        for (let j = 0; j < this.hidden; j++) counts[offset + j] += values[j];
      }
      return { tauIndex: row.tau_index, counts };
    });
    return this.sums;
  }
}

/** A τ's sums, zeros made if no shard added any. */
function countsOf(sum: RunFrequencyAt, hidden: number): Uint32Array {
  sum.counts ??= new Uint32Array(frequencyLength(hidden));
  return sum.counts;
}

/**
 * SQL: run `r` (an alias of runs) has dropped its own frequency rows: kept as
 * summaries, it drops them with its peaks once its jobs' rollups hold them
 * (retention.ts), so it has neither; a run not rolled up yet still has its peaks.
 * `schema`: an attached database's name (a segment's), else the connection's own tables.
 */
export const FREQUENCY_DROPPED = (r: string, schema?: string): string => {
  const from = schema === undefined ? '' : `${schema}.`;
  return `(${r}.keep = 'summaries' AND NOT EXISTS (SELECT 1 FROM ${from}pattern_peak_rows p WHERE p.run_key = ${r}.run_key)
    AND NOT EXISTS (SELECT 1 FROM ${from}pattern_frequency_rows f WHERE f.run_key = ${r}.run_key))`;
};

const COHORT = 'job_id = @job_id AND model_key = @model_key AND dmax = @dmax AND data_path = @data_path';

const selectionStatementsOf = perConnection((db: Db) => ({
  runs: db.prepare(
    `SELECT r.run_key, r.run_id, m.hidden, rf.positions AS counted,
            r.positions, r.status, ${FREQUENCY_DROPPED('r')} AS dropped
     FROM runs r JOIN models m USING (model_key) LEFT JOIN run_frequency rf ON rf.run_key = r.run_key AND rf.tau_f32 = @tau_f32
     WHERE r.run_key IN (SELECT value FROM json_each(@keys))`,
  ),
  rows: db.prepare(`SELECT f.class, f.row, f.positions FROM pattern_frequency_rows f JOIN run_frequency rf USING (run_key, tau_index) WHERE f.run_key = ? AND rf.tau_f32 = ?`),
  cohort: db.prepare(
    `SELECT c.runs AS cohort_runs, m.hidden, f.runs, f.positions, f.complete, f.tau
     FROM job_cohorts c JOIN models m USING (model_key)
     LEFT JOIN cohort_frequency f ON f.job_id = c.job_id AND f.model_key = c.model_key AND f.dmax = c.dmax AND f.data_path = c.data_path AND f.tau_f32 = @tau_f32
     WHERE c.${COHORT.replaceAll(' AND ', ' AND c.')}`,
  ),
  cohortRows: db.prepare(`SELECT class, row, positions FROM cohort_frequency_rows WHERE ${COHORT} AND tau = @tau`),
  rolledUpCohorts: db.prepare(
    `SELECT c.job_id, c.model_key, c.dmax, c.data_path, c.runs FROM job_runs jr JOIN runs r USING (run_key)
     JOIN job_cohorts c ON c.job_id = jr.job_id AND c.model_key = r.model_key AND c.dmax = r.dmax AND (c.data_path = '' OR c.data_path = r.data_path)
     WHERE jr.run_key = ? AND jr.rolled_up = 1`,
  ),
  rolledUpMembers: db
    .prepare(
      `SELECT r.run_key FROM job_runs jr JOIN runs r USING (run_key)
       WHERE jr.job_id = @job_id AND r.model_key = @model_key AND r.dmax = @dmax AND (@data_path = '' OR r.data_path = @data_path)
         AND jr.rolled_up = 1 AND r.status = 'done'`,
    )
    .pluck(),
}));

/** The activation frequencies of a selection of runs at one τ, added up. */
export interface SelectionFrequency {
  /** The τ as FREQUENCY_TAUS gives it. */
  readonly tau: number;
  /** Finished runs whose every position is counted (the sums are theirs). */
  readonly runs: number;
  /** Runs of the selection without frequencies at τ: not finished, begun before schema 7, or of another hidden size. */
  readonly without: number;
  /** The positions the sums count: those of `runs`. */
  readonly positions: number;
  /** Per pattern (frequencyLength's layout), the positions where it is active, over `runs`. */
  readonly counts: Float64Array;
}

/** SelectionFrequency's sums as they are added up. */
interface FrequencySums {
  runs: number;
  without: number;
  positions: number;
  readonly counts: Float64Array;
}

/** Adds a stored row of H counts (a run's or a cohort's) to the sums. */
function addFrequencyRow(sums: FrequencySums, hidden: number, row: { class: PatternClass; row: number; positions: Buffer }): void {
  const values = decodeCodePoints(row.positions, hidden);
  const offset = frequencyRowOffset(hidden, row.class, row.row);
  for (let j = 0; j < hidden; j++) sums.counts[offset + j] += values[j];
}

/**
 * Adds up the frequencies at `tau` of a selection's finished runs whose model has
 * `hidden` neurons and whose every position is counted: a cohort's sums for each
 * cohort the selection holds entirely (selection.ts; a few hundred rows per
 * cohort), each other run's own rows (a few hundred per run); never positions.
 * A run that dropped its rows (kept as summaries) and is not in such a cohort
 * cannot be counted: refused, as never-active patterns without peaks are.
 */
export function selectionFrequency(db: Db, runs: Runs, hidden: number, tau: number): SelectionFrequency {
  const plan = planSelection(db, runs);
  const tauF32 = Math.fround(tau);
  const sums: FrequencySums = { runs: 0, without: 0, positions: 0, counts: new Float64Array(frequencyLength(hidden)) };
  const runKeys = plan.runs.map((run) => run.run_key);
  for (const cohort of plan.cohorts) {
    const complete = addCohortFrequency(db, sums, cohort, hidden, tauF32);
    // Sums that lack a run's rows: its runs are read one by one.
    if (!complete) runKeys.push(...cohort.members().map((run) => run.run_key));
  }
  addRunFrequencies(db, sums, runKeys, hidden, tauF32);
  return { tau, ...sums };
}

/** Adds a cohort's sums at τ; false when they lack some run's rows (its runs must be read instead). */
function addCohortFrequency(db: Db, sums: FrequencySums, cohort: CohortKey, hidden: number, tauF32: number): boolean {
  const s = selectionStatementsOf(db);
  const { job_id, model_key, dmax, data_path } = cohort;
  const key = { job_id, model_key, dmax, data_path };
  type CohortRow = { cohort_runs: number; hidden: number; runs: number | null; positions: number | null; complete: number | null; tau: number | null };
  const row = s.cohort.get({ ...key, tau_f32: tauF32 }) as CohortRow;
  if (row.hidden === hidden && row.complete === 0) return false;
  if (row.hidden !== hidden || row.runs === null || row.positions === null) {
    sums.without += row.cohort_runs;
    return true;
  }
  sums.runs += row.runs;
  sums.positions += row.positions;
  sums.without += row.cohort_runs - row.runs;
  for (const stored of s.cohortRows.iterate({ ...key, tau: row.tau }) as IterableIterator<{ class: PatternClass; row: number; positions: Buffer }>) {
    addFrequencyRow(sums, hidden, stored);
  }
  return true;
}

/**
 * Adds runs' own rows at τ (those done, of `hidden`, every position counted); a run
 * that dropped them is read from a cohort that lags (addLaggingCohorts), else refused.
 */
function addRunFrequencies(db: Db, sums: FrequencySums, runKeys: readonly number[], hidden: number, tauF32: number): void {
  const s = selectionStatementsOf(db);
  type RunRow = { run_key: number; run_id: string; hidden: number; counted: number | null; positions: number; status: string; dropped: number };
  const rows = s.runs.all({ tau_f32: tauF32, keys: JSON.stringify(runKeys) }) as RunRow[];
  // A run's sums are in pattern_frequency_rows once it is done, and only whole if every position was counted.
  const counted = (run: RunRow) => run.status === 'done' && run.hidden === hidden && run.counted === run.positions;
  const dropped = rows.filter((run) => counted(run) && run.dropped === 1).map((run) => run.run_key);
  const covered = dropped.length > 0 ? addLaggingCohorts(db, sums, runKeys, dropped, hidden, tauF32) : new Set<number>();
  for (const run of rows) {
    if (covered.has(run.run_key)) continue;
    if (!counted(run)) {
      sums.without++;
      continue;
    }
    if (run.dropped === 1) {
      throw new InputError(
        `report: the activation frequencies of this selection need the frequency rows of run ${run.run_id}, which (kept as summaries) dropped them ` +
          `once its jobs' rollups held them: report whole jobs, or group by job, model, dmax or data (whole cohorts), or leave out --sections frequency`,
      );
    }
    sums.runs++;
    sums.positions += run.counted as number;
    for (const row of s.rows.all(run.run_key, tauF32) as { class: PatternClass; row: number; positions: Buffer }[]) addFrequencyRow(sums, hidden, row);
  }
}

/**
 * During a sweep a cohort lags its finished runs until the next roll-up, so a report
 * reads its runs one by one (selection.ts), and those kept as summaries and rolled up
 * already dropped their rows. Such a cohort still holds exactly its rolled-up runs
 * (job_runs.rolled_up = 1, its `runs`): its sums stand for them when they are all
 * among `runKeys` and no cohort taken here holds one of them. Returns the runs covered.
 */
function addLaggingCohorts(db: Db, sums: FrequencySums, runKeys: readonly number[], dropped: readonly number[], hidden: number, tauF32: number): Set<number> {
  const s = selectionStatementsOf(db);
  const selected = new Set(runKeys);
  const covered = new Set<number>();
  for (const runKey of dropped) {
    if (covered.has(runKey)) continue;
    for (const { runs, ...key } of s.rolledUpCohorts.all(runKey) as (CohortKey & { runs: number })[]) {
      const members = s.rolledUpMembers.all(key) as number[];
      if (members.length !== runs || !members.every((member) => selected.has(member) && !covered.has(member))) continue;
      if (!addCohortFrequency(db, sums, key, hidden, tauF32)) continue;
      for (const member of members) covered.add(member);
      break;
    }
  }
  return covered;
}

/**
 * What is wrong with the frequencies a done run of an attached database
 * (`schema`, a segment) holds, or undefined: one row per FREQUENCY_TAUS counting
 * all its positions, no sums in progress, rows of H counts in range (class, row,
 * each count at most its positions), and per class, at a τ of its own, the counts'
 * sum over patterns equal to the sum over positions of n_x, n_h, n_y. A run kept as
 * summaries that dropped its rows (FREQUENCY_DROPPED: the segment's rollups hold
 * them, which a merge does not copy) has only its counted positions checked: it
 * comes without its frequencies, as it comes without its peaks, and its cohort
 * here reads it as such (cohort_frequency.complete = 0).
 */
export function segmentFrequencyCheck(db: Db, schema: string): (run: { readonly run_key: number; readonly positions: number }, hidden: number) => string | undefined {
  const statements = {
    runFrequency: db.prepare(`SELECT tau_index, tau, tau_f32, positions FROM ${schema}.run_frequency WHERE run_key = ?`),
    inProgress: db.prepare(`SELECT count(*) FROM ${schema}.frequency_in_progress WHERE run_key = ?`).pluck(),
    stats: db.prepare(`SELECT t.tau_f32, s.sum_x, s.sum_h, s.sum_y FROM ${schema}.run_tau_stats s JOIN ${schema}.run_taus t USING (run_key, tau_index) WHERE s.run_key = ?`),
    rows: db.prepare(`SELECT class, row, positions FROM ${schema}.pattern_frequency_rows WHERE run_key = ? AND tau_index = ?`),
    dropped: db
      .prepare(`SELECT ${FREQUENCY_DROPPED('r', schema)} FROM ${schema}.runs r WHERE r.run_key = ?`)
      .pluck(),
  };
  return (run, hidden) => frequencyProblem(statements, run, hidden);
}

function frequencyProblem(
  s: { runFrequency: Statement; inProgress: Statement; stats: Statement; rows: Statement; dropped: Statement },
  run: { readonly run_key: number; readonly positions: number },
  hidden: number,
): string | undefined {
  const key = run.run_key;
  const stored = s.runFrequency.all(key) as { tau_index: number; tau: number; tau_f32: number; positions: number }[];
  for (const tau of FREQUENCY_TAUS) {
    const row = stored.find((entry) => entry.tau === tau);
    if (row === undefined || row.tau_f32 !== Math.fround(tau)) return `it has no activation frequency at τ = ${tau}`;
    if (row.positions !== run.positions) return `its activation frequency at τ = ${tau} counts ${row.positions} of its ${run.positions} positions`;
  }
  const inProgress = s.inProgress.get(key) as number;
  if (inProgress > 0) return `it has ${inProgress} frequency rows still in progress`;
  if (s.dropped.get(key) === 1) return undefined;
  const stats = s.stats.all(key) as { tau_f32: number; sum_x: number; sum_h: number; sum_y: number }[];
  for (const entry of stored) {
    const sums: Record<PatternClass, number> = { wx: 0, wh: 0, wy: 0 };
    const rows = s.rows.all(key, entry.tau_index) as { class: PatternClass; row: number; positions: Buffer }[];
    for (const row of rows) {
      let values: Uint32Array;
      try {
        frequencyRowOffset(hidden, row.class, row.row);
        values = decodeCodePoints(row.positions, hidden);
      } catch (error) {
        return `its ${row.class} frequency row ${row.row} is unreadable: ${(error as Error).message}`;
      }
      for (const value of values) {
        if (value > run.positions) return `its ${row.class} frequency row ${row.row} counts ${value} positions of ${run.positions}`;
        sums[row.class] += value;
      }
    }
    const counts = stats.find((row) => row.tau_f32 === entry.tau_f32);
    if (counts !== undefined && (counts.sum_x !== sums.wx || counts.sum_h !== sums.wh || counts.sum_y !== sums.wy)) {
      return `its activation frequencies at τ = ${entry.tau} add up to ${sums.wx}, ${sums.wh}, ${sums.wy} (Wx, Wh, Wy), its counts to ${counts.sum_x}, ${counts.sum_h}, ${counts.sum_y}`;
    }
  }
  return undefined;
}
