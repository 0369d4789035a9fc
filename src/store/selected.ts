import type Database from 'better-sqlite3';
import type { Db } from './db.js';
import type { CohortKey } from './cohorts.js';
import type { CoveringCohort, SelectedRun, SelectionPlan } from './selectionPlan.js';
import { OverviewFigureDecoder } from './overview.js';
import { perConnection, perConnectionAndKey } from './statements.js';

/**
 * A selection of runs held by SQLite, not by one JavaScript object per run: at
 * 10⁵ runs a report describes its selection with one aggregate statement,
 * groups it with one INSERT … SELECT into a TEMP table (private to the
 * connection, writable on a read-only one, in memory), and plans each group
 * with a few aggregates. What a report prints per run (the JSON's run ids) is
 * read when asked for.
 */

/** What a selection can be grouped by (`report --by`), plus the τ list, the rule and the burn-in a report splits by itself. */
export type GroupKeyName = 'model' | 'data' | 'window' | 'dmax' | 'job' | 'taus' | 'rule' | 'burn_in';

/** Which runs: one job's (in job order), named ones (in the order named), or every run (oldest first); then narrowed. */
export interface RunFilter {
  readonly jobId?: number;
  readonly runKeys?: readonly number[];
  /** A model's sha256 prefix, or its path (absolute). */
  readonly model?: { readonly sha256Prefix: string; readonly path: string };
  readonly dmax?: number;
  /** A data file (absolute path). */
  readonly dataPath?: string;
}

/** What a selection mixes: distinct values, sorted. */
export interface SelectionMix {
  readonly runs: number;
  readonly unfinished: number;
  readonly models: readonly { readonly model_key: number; readonly sha256: string; readonly path: string }[];
  readonly dmax: readonly number[];
  /** Each distinct τ list, as stored (`runs.tau_list`, comma-joined τ). */
  readonly tauLists: readonly string[];
  /** Each distinct attribution rule (`runs.rule`). */
  readonly rules: readonly string[];
  /** Each distinct burn-in (`runs.burn_in`), ascending. */
  readonly burnIns: readonly number[];
  readonly dataFiles: readonly string[];
}

/** One group's key: the value of each key it was grouped by. */
export interface GroupKey {
  readonly model?: { readonly sha256: string; readonly path: string };
  readonly data?: string;
  readonly window?: { readonly path: string; readonly offset: number; readonly length: number };
  readonly dmax?: number;
  readonly job?: { readonly id: number; readonly name: string };
  readonly taus?: string;
  readonly rule?: string;
  readonly burn_in?: number;
}

/** A group of selected runs: what every query of a report takes. */
export interface RunGroup {
  readonly key: GroupKey;
  /** Number of runs. */
  readonly size: number;
  /** The runs' ids, in selection order (read when asked for). */
  runIds(): string[];
  /** How the report's queries read the group (cohort rollups and single runs). */
  plan(): SelectionPlan;
}

/** Where a selection's figures come from: for a page's provenance. */
export interface SelectionProvenance {
  readonly jobs: readonly { readonly job_id: number; readonly name: string; readonly job_sha256: string; readonly source: string | null }[];
  readonly models: readonly { readonly sha256: string; readonly path: string }[];
  readonly toolVersions: readonly string[];
  readonly firstStarted: string | null;
  readonly lastFinished: string | null;
}

/** A run as a sweep page's table of runs shows it: its parameters beside its figures at one τ. */
export interface RunFigures {
  readonly run_id: string;
  readonly model_sha256: string;
  readonly data_path: string;
  readonly data_offset: number;
  readonly data_length: number;
  readonly burn_in: number;
  readonly dmax: number;
  readonly status: string;
  readonly positions: number;
  readonly bpc: number | null;
  readonly mean_n: number | null;
  readonly median_n: number | null;
}

/**
 * A group that is one finished run, as its stored summaries give it: what its
 * report needs, read for every such group of a selection by one statement
 * (RunSelection.singleRunFigures).
 */
export interface SingleRunFigures {
  readonly run_id: string;
  readonly model_key: number;
  /** Its shards' positions and split surprisal sums. */
  readonly shards: readonly { readonly positions: number; readonly surprisal_sum: number; readonly surprisal_err: number }[];
  /** Its summaries per τ (as given), without the histograms: alone, a run's stored median is its median. */
  readonly taus: readonly {
    readonly tau: number;
    readonly positions: number;
    readonly sum_x: number;
    readonly sum_h: number;
    readonly sum_y: number;
    readonly min_n: number;
    readonly median_n: number;
    readonly max_n: number;
  }[];
  /** Patterns active at the τ asked for, when that is one of its τ. */
  readonly active: { readonly active_x: number; readonly active_h: number; readonly active_y: number } | null;
  /** Its depth profile rows, when asked for. */
  readonly depth: readonly { readonly d: number; readonly positions: number; readonly mass_sum: number; readonly mass_err: number }[] | null;
}

/**
 * What a text or Markdown overview prints of a one-run group, as stored in its
 * `run_overview` row (RunSelection.oneRunOverviews).
 */
export interface OneRunOverviewFigures {
  /** The run's positions (its shards' counts). */
  readonly positions: number;
  /** The exact sum of its surprisals, rounded once (surprisalOf's sum). */
  readonly surprisalBits: number;
  /** Per τ in tau_index order, OVERVIEW_FIGURES_PER_TAU little-endian float64: tau, tau_f32, positions, n_sum, median_n. */
  readonly figures: Buffer;
}

/** Reads figures of a selection's one-run groups, a group at a time in group order; `close` ends the read. */
export interface OneRunGroupReader<Figures> {
  /** The figures of `group` when it is one finished run not read from a cohort (and the reader can give them), else undefined (read it with the report's queries). */
  figures(group: RunGroup): Figures | undefined;
  close(): void;
}

/** The overview figures of one-run groups: also undefined for a run without a `run_overview` row. */
export type OneRunOverviewReader = OneRunGroupReader<OneRunOverviewFigures>;

export type SingleRunReader = OneRunGroupReader<SingleRunFigures>;

/** A group of oneRunGroups: its key, and its run's `run_overview` row when the cursor can give it (else read the group from `rest`). */
export interface OneRunGroupEntry {
  readonly key: GroupKey;
  /** The run's positions (its shards' counts); with surprisalBits and figures, as OneRunOverviewFigures. */
  readonly positions?: number;
  readonly surprisalBits?: number;
  /** Its figures as numbers (OneRunOverviewFigures' little-endian float64s), valid until the cursor's next call. */
  readonly figures?: Float64Array;
}

/** The groups of a selection whose groups are each one run, in group order (RunSelection.oneRunGroups). */
export interface OneRunGroupCursor {
  /** The next group, or undefined after the last (which ends the read). */
  next(): OneRunGroupEntry | undefined;
  /** The groups from the last one `next` gave on (that one included), as streamGroups gives them; ends this read. */
  rest(): Generator<RunGroup>;
  /** Ends the read. */
  close(): void;
}

export interface UnfinishedRun {
  readonly run_id: string;
  readonly positions_done: number;
  readonly positions: number;
}

const FILTERS = `(@dmax IS NULL OR r.dmax = @dmax) AND (@data IS NULL OR r.data_path = @data)
  AND (@model IS NULL OR r.model_key IN (SELECT model_key FROM models WHERE substr(model_sha256, 1, length(@model)) = @model OR path = @model_path))`;

/** The selected runs as SQL: each kind of filter's rows of `runs r`, and the selection's order. */
const SOURCES = {
  job: { from: `job_runs jr JOIN runs r USING (run_key) WHERE jr.job_id = @job AND ${FILTERS}`, order: 'jr.run_order' },
  // (Each order is unique within a selection: a window function to number the rows would cost a sort.)
  all: { from: `runs r WHERE ${FILTERS}`, order: 'r.run_key' },
  keys: { from: `json_each(@keys) j JOIN runs r ON r.run_key = j.value WHERE ${FILTERS}`, order: 'j.key' },
} as const;
type SourceKind = keyof typeof SOURCES;

/** Group-key columns, as SQL over `runs r`. */
const KEY_COLUMNS: Record<GroupKeyName, readonly string[]> = {
  model: ['r.model_key'],
  data: ['r.data_path'],
  window: ['r.data_path', 'r.data_offset', 'r.data_length'],
  dmax: ['r.dmax'],
  taus: ['r.tau_list'],
  rule: ['r.rule'],
  burn_in: ['r.burn_in'],
  job: ['(SELECT min(job_id) FROM job_runs WHERE run_key = r.run_key)'],
};

const POSITIONS_DONE = `CASE r.status WHEN 'done' THEN r.positions ELSE (SELECT coalesce(sum(count), 0) FROM shards s WHERE s.run_key = r.run_key) END`;

/** A covering cohort as the membership statements bind it. */
const IN_COHORTS = `EXISTS (SELECT 1 FROM json_each(@cohorts) c JOIN job_runs jr ON jr.job_id = json_extract(c.value, '$[0]') AND jr.run_key = s.run_key
  WHERE s.done AND s.model_key = json_extract(c.value, '$[1]') AND s.dmax = json_extract(c.value, '$[2]')
    AND (json_extract(c.value, '$[3]') = '' OR s.data_path = json_extract(c.value, '$[3]')))`;

const statements = perConnection((db: Db) => {
  // In memory: a selection is rebuilt by every command, never worth a temp file.
  db.pragma('temp_store = MEMORY');
  db.exec(`CREATE TEMP TABLE IF NOT EXISTS selected_runs (
    sel INTEGER NOT NULL, ord INTEGER NOT NULL, run_key INTEGER NOT NULL, model_key INTEGER NOT NULL, dmax INTEGER NOT NULL,
    data_path TEXT NOT NULL, done INTEGER NOT NULL, grp ANY NOT NULL, PRIMARY KEY (sel, ord, run_key)) WITHOUT ROWID`);
  db.exec(`CREATE INDEX IF NOT EXISTS temp.selected_runs_by_group ON selected_runs (sel, grp)`);
  const mix = (source: SourceKind) =>
    db.prepare(
      `SELECT count(*) AS runs, coalesce(sum(r.status <> 'done'), 0) AS unfinished,
              json_group_array(DISTINCT r.model_key) AS model_keys, json_group_array(DISTINCT r.dmax) AS dmax,
              json_group_array(DISTINCT r.tau_list) AS tau_lists, json_group_array(DISTINCT r.rule) AS rules,
              json_group_array(DISTINCT r.burn_in) AS burn_ins, json_group_array(DISTINCT r.data_path) AS data_files
       FROM ${SOURCES[source].from}`,
    );
  // Apart from mix: only a note of a report that pools several data files needs it, and at 10⁵ distinct windows
  // it is most of mix's cost.
  const windows = (source: SourceKind) => db.prepare(`SELECT count(DISTINCT r.data_sha256) FROM ${SOURCES[source].from}`).pluck();
  const unfinished = (source: SourceKind) =>
    db.prepare(`SELECT r.run_id, ${POSITIONS_DONE} AS positions_done, r.positions FROM ${SOURCES[source].from} AND r.status <> 'done' ORDER BY ${SOURCES[source].order} LIMIT @limit`);
  return {
    mix: { job: mix('job'), all: mix('all'), keys: mix('keys') },
    windows: { job: windows('job'), all: windows('all'), keys: windows('keys') },
    unfinished: { job: unfinished('job'), all: unfinished('all'), keys: unfinished('keys') },
    models: db.prepare(`SELECT model_key, model_sha256 AS sha256, path FROM models WHERE model_key IN (SELECT value FROM json_each(?)) ORDER BY model_sha256`),
    release: db.prepare(`DELETE FROM temp.selected_runs WHERE sel = ?`),
    provenanceJobs: db.prepare(
      `SELECT j.job_id, j.name, j.job_sha256, j.source FROM jobs j
       WHERE j.job_id IN (SELECT jr.job_id FROM temp.selected_runs s JOIN job_runs jr USING (run_key) WHERE s.sel = ?) ORDER BY j.job_id`,
    ),
    provenanceRuns: db.prepare(
      `SELECT json_group_array(DISTINCT r.tool_version) AS versions, json_group_array(DISTINCT r.model_key) AS model_keys,
              min(r.started_at) AS first_started, max(r.finished_at) AS last_finished
       FROM temp.selected_runs s JOIN runs r USING (run_key) WHERE s.sel = ?`,
    ),
    // Figures of single runs at one τ (its float32), from their stored summaries: positions, bpc (exact sums of the shards), mean and median n.
    runFigures: db.prepare(
      `SELECT r.run_id, m.model_sha256, r.data_path, r.data_offset, r.data_length, r.burn_in, r.dmax, r.status,
              (SELECT sum(count) FROM shards WHERE run_key = r.run_key) AS positions,
              (SELECT (sum(surprisal_sum) + sum(surprisal_err)) / sum(count) FROM shards WHERE run_key = r.run_key) AS bpc,
              (st.sum_x + st.sum_h + st.sum_y) * 1.0 / st.positions AS mean_n, st.median_n
       FROM temp.selected_runs s JOIN runs r USING (run_key) JOIN models m USING (model_key)
         LEFT JOIN run_taus rt ON rt.run_key = r.run_key AND rt.tau_f32 = @tau
         LEFT JOIN run_tau_stats st ON st.run_key = r.run_key AND st.tau_index = rt.tau_index
       WHERE s.sel = @sel ORDER BY s.ord LIMIT @limit`,
    ),
    // Each group's key values are its `grp` (their JSON array), read back in JavaScript (groupKeyReader), so no run is
    // looked up again; sorted by first run with three columns per group (at 10⁵ groups, --by window, the sorter's
    // memory and about a third of a second that joining each group's first run and model cost).
    groups: db.prepare(`SELECT grp, min(ord) AS first, count(*) AS runs FROM temp.selected_runs WHERE sel = ? GROUP BY grp ORDER BY first LIMIT -1 OFFSET ?`).raw(),
    // Whether the store has a cohort of one run: only such a cohort can stand for a group of one run (oneRunGroups).
    oneRunCohort: db.prepare(`SELECT 1 FROM job_cohorts WHERE runs = 1 LIMIT 1`).pluck(),
    modelOfKey: db.prepare(`SELECT model_sha256 AS sha256, path FROM models WHERE model_key = ?`),
    // One JSON array rather than a row per run: better-sqlite3's cost per row is most of the cost at 10⁵ runs.
    groupIds: db
      .prepare(`SELECT json_group_array(run_id) FROM (SELECT r.run_id FROM temp.selected_runs s JOIN runs r USING (run_key) WHERE s.sel = ? AND s.grp = ? ORDER BY s.ord)`)
      .pluck(),
    jobName: db.prepare(`SELECT name FROM jobs WHERE job_id = ?`).pluck(),
    // The groups of one finished run, in selection order, each with its stored summaries as JSON
    // (SQLite prints a REAL in JSON with the digits that give it back exactly): one statement for 10⁵ groups.
    singleRuns: db
      .prepare(
        `SELECT s.grp, s.ord, r.run_id, r.model_key,
           (SELECT json_group_array(json_array(count, surprisal_sum, surprisal_err)) FROM shards WHERE run_key = s.run_key) AS shards,
           -- Each τ's active counts too, all from the index run_tau_stats_figures: the run's counts at the τ asked
           -- for are picked in JavaScript (activeAt), where a query of their own read the table's rows (a page each).
           (SELECT json_group_array(json_array(rt.tau, st.positions, st.sum_x, st.sum_h, st.sum_y, st.min_n, st.median_n, st.max_n,
                                               rt.tau_f32, st.active_x, st.active_h, st.active_y))
              FROM run_tau_stats st JOIN run_taus rt USING (run_key, tau_index) WHERE st.run_key = s.run_key) AS taus,
           CASE WHEN @depth THEN (SELECT json_group_array(json_array(d, positions, mass_sum, mass_err)) FROM run_depth WHERE run_key = s.run_key) END AS depth
         FROM temp.selected_runs s JOIN runs r USING (run_key)
         WHERE s.sel = @sel AND s.done AND NOT EXISTS (SELECT 1 FROM temp.selected_runs o WHERE o.sel = s.sel AND o.grp = s.grp AND o.ord <> s.ord)
         ORDER BY s.ord`,
      )
      .raw(),
    // What a text or Markdown overview prints of each one-run group, one run_overview row a run (schema 10: its
    // positions, exact surprisal sum and per-τ figures packed in one BLOB), in selection order: one seek a run in a
    // table of ~0.3 KB rows, no JSON built or parsed. Every finished run's row, not only one-run groups': the reader
    // takes a group's row only when the group is one run (its size) and the row is its first run's, so no check of
    // the group's other runs per row. A run without a row (its τ not numbered 0 … count - 1) is left to the report's
    // queries, as singleRuns leaves it.
    oneRunOverviews: db
      .prepare(
        `SELECT s.grp, s.ord, o.positions, o.surprisal_bits, o.figures
         FROM temp.selected_runs s JOIN run_overview o ON o.run_key = s.run_key
         WHERE s.sel = @sel AND s.done ORDER BY s.ord`,
      )
      .raw(),
    // The cohorts of the jobs the selection touches, largest first.
    candidates: db.prepare(
      `SELECT c.job_id, c.model_key, c.dmax, c.data_path, c.runs FROM job_cohorts c
       WHERE c.job_id IN (SELECT DISTINCT jr.job_id FROM temp.selected_runs s JOIN job_runs jr USING (run_key) WHERE s.sel = @sel)
       ORDER BY c.runs DESC, c.job_id, c.model_key, c.dmax, c.data_path`,
    ),
    // The finished runs of a cohort's shape that the selection holds and its job has (all of them when the selection is that job's).
    shapeInSelection: db.prepare(
      `SELECT count(*) AS runs, min(s.grp) AS grp, max(s.grp) AS last_grp, min(s.run_key) AS some_run_key FROM temp.selected_runs s
       WHERE s.sel = @sel AND s.done AND s.model_key = @model_key AND s.dmax = @dmax AND (@data_path = '' OR s.data_path = @data_path)
         AND (@from_job OR EXISTS (SELECT 1 FROM job_runs jr WHERE jr.job_id = @job_id AND jr.run_key = s.run_key))`,
    ),
    // A finished run of the cohort's shape not yet in it (the partial index job_runs_to_roll_up): the cohort is stale.
    pendingRollUp: db
      .prepare(
        `SELECT 1 FROM job_runs jr JOIN runs r USING (run_key) WHERE jr.job_id = @job_id AND jr.rolled_up = 0
           AND r.status = 'done' AND r.model_key = @model_key AND r.dmax = @dmax AND (@data_path = '' OR r.data_path = @data_path) LIMIT 1`,
      )
      .pluck(),
    sharedRuns: db
      .prepare(
        `SELECT 1 FROM job_runs a JOIN job_runs b ON b.job_id = @other AND b.run_key = a.run_key JOIN runs r ON r.run_key = a.run_key
         WHERE a.job_id = @job_id AND r.model_key = @model_key AND r.dmax = @dmax AND r.status = 'done'
           AND (@data_path = '' OR r.data_path = @data_path) AND (@other_data = '' OR r.data_path = @other_data) LIMIT 1`,
      )
      .pluck(),
    uncovered: db.prepare(
      `SELECT s.run_key, r.run_id, r.status FROM temp.selected_runs s JOIN runs r USING (run_key)
       WHERE s.sel = @sel AND s.grp = @grp AND NOT ${IN_COHORTS} ORDER BY s.ord`,
    ),
    members: db.prepare(
      `SELECT s.run_key, r.run_id, r.status FROM temp.selected_runs s JOIN runs r USING (run_key)
       WHERE s.sel = @sel AND s.grp = @grp AND ${IN_COHORTS} ORDER BY s.ord`,
    ),
  };
});

/** The INSERT that materialises a selection grouped by `keys`, prepared once per connection, source and key set. */
const inserts = perConnectionAndKey<string, ReturnType<Db['prepare']>>();

function insertStatement(db: Db, source: SourceKind, keys: readonly GroupKeyName[], jobId: number | undefined) {
  statements(db); // the temp table
  return inserts(db, `${source}|${keys.join(',')}|${jobId ?? ''}`, () => {
    const columns = keyColumnsOf(keys, jobId);
    // A group is named by its key values (JSON text): no sort, unlike numbering groups with a window function.
    const group = columns.length === 0 ? '1' : `json_array(${columns.join(', ')})`;
    const { from, order } = SOURCES[source];
    return db.prepare(
      `INSERT INTO temp.selected_runs (sel, ord, run_key, model_key, dmax, data_path, done, grp)
       SELECT @sel, ${order}, r.run_key, r.model_key, r.dmax, r.data_path, r.status = 'done', ${group} FROM ${from}`,
    );
  });
}

/**
 * A run as oneRunGroups' statements give it: whether it is done, has a run_overview row and no cohort of one run may
 * stand for it (1), its run_overview row's positions and surprisal sum (nulls without one), its figures (the row
 * statement's BLOB; the chunk statement's byte length within the chunk's BLOB), then its key columns' values.
 */
export type OneRunGroupRow = [stored: number, positions: number | null, surprisalBits: number | null, figures: Buffer | number | null, ...keyValues: unknown[]];
const ONE_RUN_KEY_AT = 4;

/** Runs per row of the chunk statement: what a report holds of them at a time (their JSON and figures, ~0.2 MB). */
const ONE_RUN_CHUNK_RUNS = 512;

export interface OneRunStatements {
  /**
   * Where the keys hold a window (and maybe Dmax): whether two runs of the whole store share them, read from the
   * index runs_by_window without a sort (about 0.03 s at 10⁵ runs, where twoRunGroup's sort of the selection takes
   * 0.09 s). None share them: no group of these keys holds two runs, in any selection.
   */
  readonly twoRunsInStore: Database.Statement<[]> | undefined;
  readonly twoRunGroup: Statement;
  /** A row per run, in selection order. */
  readonly rows: Statement;
  /**
   * Where the selection's order has an index to start a chunk from (every run, by run_key; a job's, by
   * job_runs_in_order) in a store of UTF-8 text: a row per @chunk_runs runs after @after in selection order, its
   * runs as a JSON array of OneRunGroupRow (the figures' byte length for the figures, and each run's order value
   * last) and their figures concatenated in one BLOB. A row per run cost better-sqlite3 a row and a Buffer each (at
   * 10⁵ runs about 0.2 s of `report --by window`'s 1.3 s).
   */
  readonly chunks: Statement | undefined;
}

const oneRunStatementsOf = perConnectionAndKey<string, OneRunStatements>();
type Statement = ReturnType<Db['prepare']>;

/**
 * oneRunGroups' statements, prepared once per connection, source and key set:
 * whether some group of `keys` holds two runs, and the runs in selection order
 * (a group's order when each is one run) with their key columns and overview.
 */
function oneRunStatements(db: Db, source: SourceKind, keys: readonly GroupKeyName[], jobId: number | undefined): OneRunStatements {
  return oneRunStatementsOf(db, `${source}|${keys.join(',')}|${jobId ?? ''}`, () => {
    const columns = keyColumnsOf(keys, jobId);
    const { order, from } = SOURCES[source];
    // A cohort stands for a group of one run only if it is a cohort of one run (its runs all lie in the group): such
    // a cohort of one of the run's jobs, of its model, Dmax and data file (or every file), marks the run, and the
    // cursor leaves it to streamGroups, whose covering cohorts decide (checked only when the store has such a cohort).
    const selected = (after: string) => `SELECT ${order} AS ord, r.run_key, r.status = 'done' AS done,
                   CASE WHEN @one_run_cohorts THEN EXISTS (SELECT 1 FROM job_runs cj JOIN job_cohorts c ON c.job_id = cj.job_id
                     WHERE cj.run_key = r.run_key AND c.model_key = r.model_key AND c.dmax = r.dmax AND c.data_path IN ('', r.data_path) AND c.runs = 1)
                   ELSE 0 END AS may_be_covered${columns.map((column, k) => `, ${column} AS key${k}`).join('')}
                 FROM ${from}${after} ORDER BY ${order}`;
    const stored = 's.done AND NOT s.may_be_covered AND o.run_key IS NOT NULL';
    const keyValues = columns.map((_, k) => `, s.key${k}`).join('');
    // group_concat joins BLOBs byte for byte only as UTF-8 text (the CAST takes the bytes back): in a store of
    // another encoding SQLite would convert them.
    const utf8 = db.pragma('encoding', { simple: true }) === 'UTF-8';
    const windowColumns = keys.includes('window') ? ['data_path', 'data_offset', 'data_length', ...(keys.includes('dmax') ? ['dmax'] : [])] : [];
    return {
      twoRunsInStore:
        windowColumns.length === 0 ? undefined : db.prepare<[]>(`SELECT 1 FROM runs GROUP BY ${windowColumns.join(', ')} HAVING count(*) > 1 LIMIT 1`).pluck(),
      twoRunGroup: db.prepare(`SELECT 1 FROM ${from} GROUP BY ${columns.length === 0 ? '1' : columns.join(', ')} HAVING count(*) > 1 LIMIT 1`).pluck(),
      // The runs are put in order first, each with its few columns, and their run_overview rows joined in that order
      // (the outer ORDER BY is then met without a sort): sorting the rows with their figures cost about 0.1 s at 10⁵
      // runs. (LIMIT -1 keeps the subquery from being flattened into the join.)
      rows: db
        .prepare(
          `SELECT ${stored}, o.positions, o.surprisal_bits, o.figures${keyValues}
           FROM (${selected(` AND ${order} > @after`)} LIMIT -1) s
             LEFT JOIN run_overview o ON o.run_key = s.run_key
           ORDER BY s.ord`,
        )
        .raw(),
      // (Named runs' order, json_each's key, has no index: each chunk would read the array from its start.) The
      // aggregates take the joined rows in the order the ordered subquery gives them: an ORDER BY in them would sort
      // each chunk again (about 70 ms at 10⁵ runs), so each run's order value comes last in its array, and the reader
      // checks they ascend (the BLOB's parts go in the same order: both aggregates take each row in turn).
      chunks:
        source !== 'keys' && utf8
          ? db
              .prepare(
                `SELECT json_group_array(json_array(${stored}, o.positions, o.surprisal_bits, length(o.figures)${keyValues}, s.ord)),
                   CAST(group_concat(o.figures, x'') AS BLOB)
                 FROM (${selected(` AND ${order} > @after`)} LIMIT @chunk_runs) s
                   LEFT JOIN run_overview o ON o.run_key = s.run_key`,
              )
              .raw()
          : undefined,
    };
  });
}

/**
 * The runs of oneRunGroups' statements in selection order, one at a time:
 * from the chunk statement where there is one, else a row per run. A run's
 * figures are valid until the next call. (Exported for its tests, which give
 * it statements whose chunks do not ascend.)
 */
export class OneRunRows {
  #rows: IterableIterator<OneRunGroupRow> | undefined;
  #params: Record<string, unknown>;
  /** The current chunk's runs, the next one's index, and their figures (float64, from the chunk's BLOB). */
  #chunk: OneRunGroupRow[] = [];
  #at = 0;
  #figureAt = 0;
  /** The order value the next chunk starts after (none below this one), or undefined once chunks are done with. */
  #after: number | undefined = Number.MIN_SAFE_INTEGER;
  #figures: Float64Array = new Float64Array(0);
  readonly #decoder = new OverviewFigureDecoder();
  /** The current run's figures. */
  figures: Float64Array | null = null;

  constructor(
    private readonly statements: OneRunStatements,
    params: Record<string, unknown>,
  ) {
    this.#params = params;
    if (statements.chunks === undefined) this.#rows = statements.rows.iterate({ ...params, after: this.#after }) as IterableIterator<OneRunGroupRow>;
  }

  /** The next run (its row: the stored flag, positions, surprisal sum, then key values from ONE_RUN_KEY_AT), or undefined after the last. */
  next(): OneRunGroupRow | undefined {
    for (;;) {
      if (this.#rows !== undefined) {
        const next = this.#rows.next();
        if (next.done) return undefined;
        const row = next.value;
        this.figures = row[3] === null ? null : this.#decoder.decode(row[3] as Buffer);
        return row;
      }
      if (this.#at < this.#chunk.length) {
        const row = this.#chunk[this.#at++];
        const length = row[3] as number | null;
        this.figures = length === null ? null : this.#figures.subarray(this.#figureAt, this.#figureAt + (length >> 3));
        this.#figureAt += (length ?? 0) >> 3;
        return row;
      }
      if (!this.#readChunk()) return undefined;
    }
  }

  #readChunk(): boolean {
    if (this.#after === undefined) return false;
    const [runs, figures] = (this.statements.chunks as Statement).get({ ...this.#params, after: this.#after }) as [string, Buffer | null];
    const chunk = JSON.parse(runs) as OneRunGroupRow[];
    if (chunk.length === 0) {
      this.#after = undefined;
      return false;
    }
    // Each run's order value (last in its array) above the one before: else read on a row per run from where the chunks ended.
    let last = this.#after;
    for (const row of chunk) {
      const ord = row[row.length - 1] as number;
      if (!(ord > last)) {
        this.#rows = this.statements.rows.iterate({ ...this.#params, after: this.#after }) as IterableIterator<OneRunGroupRow>;
        this.#after = undefined;
        return true;
      }
      last = ord;
    }
    this.#after = last;
    this.#chunk = chunk;
    this.#at = 0;
    this.#figureAt = 0;
    this.#figures = figures === null ? new Float64Array(0) : this.#decoder.decode(figures);
    return true;
  }

  close(): void {
    this.#rows?.return?.();
    this.#rows = undefined;
    this.#after = undefined;
    this.#chunk = [];
    this.#at = 0;
  }
}

/** Key columns (KEY_COLUMNS) each key name puts in a group's `grp`: none for `job` when the selection is one job's. */
function keyColumns(name: GroupKeyName, jobId: number | undefined): readonly string[] {
  return name === 'job' && jobId !== undefined ? [] : KEY_COLUMNS[name];
}

/**
 * How a group's key is read back from its key columns' values in key order
 * (KEY_COLUMNS; its `grp` holds them as a JSON array, insertStatement), from
 * `values[at]` on; models and job names are looked up once each.
 */
function groupKeyReader(db: Db, keys: readonly GroupKeyName[], jobId: number | undefined): (values: readonly unknown[], at: number) => GroupKey {
  const s = statements(db);
  const models = new Map<number, { readonly sha256: string; readonly path: string }>();
  const jobNames = new Map<number, string>();
  const modelOf = (modelKey: number) => {
    let model = models.get(modelKey);
    if (model === undefined) {
      model = s.modelOfKey.get(modelKey) as { sha256: string; path: string };
      models.set(modelKey, model);
    }
    return model;
  };
  const jobName = (id: number): string => {
    let name = jobNames.get(id);
    if (name === undefined) {
      name = (s.jobName.get(id) as string | undefined) ?? String(id);
      jobNames.set(id, name);
    }
    return name;
  };
  return (values, at) => {
    const key: { -readonly [K in keyof GroupKey]: GroupKey[K] } = {};
    let k = at;
    for (const name of keys) {
      if (name === 'model') key.model = modelOf(values[k++] as number);
      if (name === 'data') key.data = values[k++] as string;
      if (name === 'window') key.window = { path: values[k++] as string, offset: values[k++] as number, length: values[k++] as number };
      if (name === 'dmax') key.dmax = values[k++] as number;
      if (name === 'taus') key.taus = values[k++] as string;
      if (name === 'rule') key.rule = values[k++] as string;
      if (name === 'burn_in') key.burn_in = values[k++] as number;
      if (name === 'job') {
        const id = jobId ?? (values[k++] as number);
        key.job = { id, name: jobName(id) };
      }
    }
    return key;
  };
}

/** The key columns of `keys`, in key order (what a group's `grp` holds). */
function keyColumnsOf(keys: readonly GroupKeyName[], jobId: number | undefined): string[] {
  return keys.flatMap((name) => keyColumns(name, jobId));
}

interface Covering extends CohortKey {
  readonly runs: number;
  readonly grp: number | string;
  readonly some_run_key: number;
}

/** A run's figures at one of its τ, as the statement singleRuns gives them (its `taus`, a JSON array of these). */
type TauFiguresRow = [
  tau: number,
  positions: number,
  sum_x: number,
  sum_h: number,
  sum_y: number,
  min_n: number,
  median_n: number,
  max_n: number,
  tau_f32: number,
  active_x: number,
  active_h: number,
  active_y: number,
];

/** The active counts of the first of a run's τ (in tau_index order) whose float32 is `tauF32`; null when none is. */
function activeAt(rows: readonly TauFiguresRow[], tauF32: number): SingleRunFigures['active'] {
  const row = rows.find((candidate) => candidate[8] === tauF32);
  return row === undefined ? null : { active_x: row[9], active_h: row[10], active_y: row[11] };
}

const nextSelection = new WeakMap<Db, number>();

/**
 * A group as streamGroups gives it, with where it lies in the TEMP table (its
 * selection, its `grp` and its first run's `ord`, for the one-run readers) and
 * its runs and plan read when asked for: one object a group, no closures (at
 * 10⁵ groups, `--by window`, a WeakMap of places and two closures a group were
 * a good part of the collector's work).
 */
class SelectedGroup implements RunGroup {
  #plan: SelectionPlan | undefined;
  constructor(
    readonly key: GroupKey,
    readonly size: number,
    readonly sel: number,
    readonly grp: number | string,
    readonly first: number,
    private readonly queries: { readonly runIds: (sel: number, grp: number | string) => string[]; readonly plan: (sel: number, grp: number | string, size: number) => SelectionPlan },
  ) {}

  runIds(): string[] {
    return this.queries.runIds(this.sel, this.grp);
  }

  plan(): SelectionPlan {
    return (this.#plan ??= this.queries.plan(this.sel, this.grp, this.size));
  }
}

/**
 * Reads a one-run statement's rows (grp, ord, …, in group order) beside the
 * groups a report asks for, in the same order: a group's parsed row, or
 * undefined for a group read otherwise (several runs, or a cohort covers it).
 */
function oneRunGroupReader<Row extends readonly [number | string, number, ...unknown[]], Figures>(
  sel: number,
  covered: ReadonlySet<number | string>,
  rows: IterableIterator<Row>,
  parse: (row: Row) => Figures | undefined,
): OneRunGroupReader<Figures> {
  let next = rows.next();
  return {
    figures: (group) => {
      if (!(group instanceof SelectedGroup) || group.sel !== sel || group.size !== 1) return undefined;
      // Groups are asked for in order; the rows skipped are groups read otherwise. A one-run group's row is its first run's.
      while (!next.done && next.value[1] < group.first) next = rows.next();
      if (next.done || next.value[1] !== group.first || next.value[0] !== group.grp || covered.has(group.grp)) return undefined;
      return parse(next.value);
    },
    close: () => void rows.return?.(),
  };
}

/**
 * A selection of runs in one connection: described (`describe`) straight from
 * its filter, then grouped (`groupBy`) into the TEMP table, where each group's
 * plan is made. Several may be open at once (each has its own `sel` number);
 * `release` drops its rows.
 */
export class RunSelection {
  readonly #db: Db;
  readonly #source: SourceKind;
  readonly #params: Record<string, unknown>;
  readonly #jobId: number | undefined;
  #mix: SelectionMix | undefined;
  #windows: number | undefined;
  #sel: number | undefined;
  #covering: Covering[] | undefined;

  private constructor(db: Db, source: SourceKind, params: Record<string, unknown>, jobId: number | undefined) {
    this.#db = db;
    this.#source = source;
    this.#params = params;
    this.#jobId = jobId;
  }

  /** The runs the filter names, in its order (a run named twice counts once). */
  static of(db: Db, filter: RunFilter): RunSelection {
    const params = {
      dmax: filter.dmax ?? null,
      data: filter.dataPath ?? null,
      model: filter.model?.sha256Prefix ?? null,
      model_path: filter.model?.path ?? null,
    };
    if (filter.runKeys !== undefined) return new RunSelection(db, 'keys', { ...params, keys: JSON.stringify([...new Set(filter.runKeys)]) }, undefined);
    if (filter.jobId !== undefined) return new RunSelection(db, 'job', { ...params, job: filter.jobId }, filter.jobId);
    return new RunSelection(db, 'all', params, undefined);
  }

  /** The runs with these ids, in this order (ids the database does not hold are left out). */
  static ofIds(db: Db, runIds: readonly string[]): RunSelection {
    const keys = db.prepare(`SELECT r.run_key FROM json_each(?) j JOIN runs r ON r.run_id = j.value ORDER BY j.key`).pluck().all(JSON.stringify(runIds)) as number[];
    return RunSelection.of(db, { runKeys: keys });
  }

  get size(): number {
    return this.describe().runs;
  }

  describe(): SelectionMix {
    if (this.#mix !== undefined) return this.#mix;
    const s = statements(this.#db);
    const row = s.mix[this.#source].get(this.#params) as {
      runs: number;
      unfinished: number;
      model_keys: string;
      dmax: string;
      tau_lists: string;
      rules: string;
      burn_ins: string;
      data_files: string;
    };
    const sorted = <T>(json: string): T[] => (JSON.parse(json) as T[]).sort();
    this.#mix = {
      runs: row.runs,
      unfinished: row.unfinished,
      models: s.models.all(row.model_keys) as SelectionMix['models'],
      dmax: (JSON.parse(row.dmax) as number[]).sort((a, b) => a - b),
      tauLists: sorted<string>(row.tau_lists),
      rules: sorted<string>(row.rules),
      burnIns: (JSON.parse(row.burn_ins) as number[]).sort((a, b) => a - b),
      dataFiles: sorted<string>(row.data_files),
    };
    return this.#mix;
  }

  /** Distinct window contents (by the window bytes' sha256) in the selection. */
  windowCount(): number {
    this.#windows ??= statements(this.#db).windows[this.#source].get(this.#params) as number;
    return this.#windows;
  }

  /** Runs not done, with their progress (at most `limit`, in selection order). */
  unfinished(limit: number): UnfinishedRun[] {
    return statements(this.#db).unfinished[this.#source].all({ ...this.#params, limit }) as UnfinishedRun[];
  }

  /** The runs' ids, in selection order. */
  runIds(): string[] {
    return this.groupBy([]).flatMap((group) => group.runIds());
  }

  /** The selection split by `keys` (none: one group), groups in the order of their first run. */
  groupBy(keys: readonly GroupKeyName[]): RunGroup[] {
    return [...this.streamGroups(keys)];
  }

  /**
   * groupBy a group at a time, read by one statement as they are asked for: a
   * report of 10⁵ groups (--by window) holds one group's objects at a time, not
   * 10⁵. The selection is grouped (the TEMP table written) at the first group.
   */
  *streamGroups(keys: readonly GroupKeyName[], skip = 0): Generator<RunGroup> {
    const db = this.#db;
    const s = statements(db);
    if (this.#sel !== undefined) s.release.run(this.#sel);
    const sel = (nextSelection.get(db) ?? 0) + 1;
    nextSelection.set(db, sel);
    this.#sel = sel;
    this.#covering = undefined;
    insertStatement(db, this.#source, keys, this.#jobId).run({ ...this.#params, sel });
    const keyOf = groupKeyReader(db, keys, this.#jobId);
    const grouped = keyColumnsOf(keys, this.#jobId).length > 0;
    const queries = {
      runIds: (at: number, grp: number | string) => JSON.parse(s.groupIds.get(at, grp) as string) as string[],
      plan: (at: number, grp: number | string, size: number) => this.#planGroup(at, grp, size),
    };
    for (const [grp, first, size] of s.groups.iterate(sel, skip) as IterableIterator<[grp: number | string, first: number, runs: number]>) {
      yield new SelectedGroup(keyOf(grouped ? (JSON.parse(grp as string) as unknown[]) : [], 0), size, sel, grp, first, queries);
    }
  }

  /**
   * When every group of `keys` is one run (`report --by window` over a sweep):
   * the groups in streamGroups' order, read by one statement over the runs and
   * their `run_overview` rows, without the TEMP table, its groups' statement or
   * the covering cohorts (at 10⁵ groups about 0.7 s of the report); else
   * undefined. A group the cursor cannot give as stored (its run unfinished or
   * without a row, or a one-run cohort that may stand for it), or that its
   * reader cannot use, is read from there on as streamGroups gives it
   * (`OneRunGroupCursor.rest`). `chunkRuns`: runs read at a time where they
   * are read in chunks (tests give a few, to cross chunk boundaries).
   */
  oneRunGroups(keys: readonly GroupKeyName[], chunkRuns = ONE_RUN_CHUNK_RUNS): OneRunGroupCursor | undefined {
    if (keys.length === 0) return undefined;
    const mix = this.describe();
    // Groups by these keys alone are at most the product of their distinct values: fewer than the runs, some group holds two.
    const distinct: Partial<Record<GroupKeyName, number>> = {
      model: mix.models.length, data: mix.dataFiles.length, dmax: mix.dmax.length, taus: mix.tauLists.length, rule: mix.rules.length, burn_in: mix.burnIns.length,
    };
    if (keys.every((name) => distinct[name] !== undefined) && keys.reduce((product, name) => product * (distinct[name] ?? 1), 1) < mix.runs) return undefined;
    const s = oneRunStatements(this.#db, this.#source, keys, this.#jobId);
    const twinsInStore = s.twoRunsInStore === undefined || s.twoRunsInStore.get() !== undefined;
    if (twinsInStore && s.twoRunGroup.get(this.#params) !== undefined) return undefined;
    const rows = new OneRunRows(s, { ...this.#params, one_run_cohorts: statements(this.#db).oneRunCohort.get() === undefined ? 0 : 1, chunk_runs: chunkRuns });
    const keyOf = groupKeyReader(this.#db, keys, this.#jobId);
    let given = 0;
    let open = true;
    const close = (): void => {
      if (open) rows.close();
      open = false;
    };
    return {
      next: () => {
        const row = open ? rows.next() : undefined;
        if (row === undefined) {
          close();
          return undefined;
        }
        given += 1;
        const [stored, positions, surprisalBits] = row;
        const key = keyOf(row, ONE_RUN_KEY_AT);
        const figures = rows.figures;
        return stored === 1 && figures !== null ? { key, positions: positions as number, surprisalBits: surprisalBits as number, figures } : { key };
      },
      rest: () => {
        close();
        return this.streamGroups(keys, Math.max(0, given - 1));
      },
      close,
    };
  }

  /** The selection's number in the TEMP table, its rows written (ungrouped) if no groupBy wrote them yet. */
  #materialised(): number {
    if (this.#sel === undefined) this.groupBy([]);
    return this.#sel ?? 0;
  }

  /** The jobs, models, tool versions and times of the selection. */
  provenance(): SelectionProvenance {
    const sel = this.#materialised();
    const s = statements(this.#db);
    const runs = s.provenanceRuns.get(sel) as { versions: string; model_keys: string; first_started: string | null; last_finished: string | null };
    return {
      jobs: s.provenanceJobs.all(sel) as SelectionProvenance['jobs'],
      models: (s.models.all(runs.model_keys) as { sha256: string; path: string }[]).map(({ sha256, path }) => ({ sha256, path })),
      toolVersions: (JSON.parse(runs.versions) as string[]).sort(),
      firstStarted: runs.first_started,
      lastFinished: runs.last_finished,
    };
  }

  /**
   * The first `limit` runs (selection order) with their figures at τ (a float32),
   * from their stored summaries (null for a run not done at that τ). bpc is the
   * shards' split sums added in SQL (a table's figure, not the report's exact sum).
   */
  runFigures(tauF32: number, limit: number): RunFigures[] {
    const sel = this.#materialised();
    return statements(this.#db).runFigures.all({ sel, tau: tauF32, limit }) as RunFigures[];
  }

  /**
   * The stored figures of the groups (of the last groupBy) that are one
   * finished run, streamed by one statement in group order: a report of 10⁵
   * such groups (`--by window`) reads them without a query per group. A group
   * a cohort covers is left to the report's queries (which read the cohort),
   * so every figure is the one they give. `tauF32`: the τ of the active-pattern
   * counts; `depth`: read the depth profiles too.
   */
  singleRunFigures(tauF32: number, depth: boolean): SingleRunReader {
    const sel = this.#sel;
    if (sel === undefined) return { figures: () => undefined, close: () => {} };
    const covered = new Set(this.#coveringCohorts(sel).map((cohort) => cohort.grp));
    const rows = statements(this.#db).singleRuns.iterate({ sel, depth: depth ? 1 : 0 }) as IterableIterator<
      [grp: number | string, ord: number, runId: string, modelKey: number, shards: string, taus: string, depth: string | null]
    >;
    return oneRunGroupReader(sel, covered, rows, (row): SingleRunFigures => {
      const [, , run_id, model_key, shards, taus, depthRows] = row;
      const tauRows = JSON.parse(taus) as TauFiguresRow[];
      return {
        run_id,
        model_key,
        shards: (JSON.parse(shards) as [number, number, number][]).map(([positions, surprisal_sum, surprisal_err]) => ({ positions, surprisal_sum, surprisal_err })),
        taus: tauRows.map(([tau, positions, sum_x, sum_h, sum_y, min_n, median_n, max_n]) => ({ tau, positions, sum_x, sum_h, sum_y, min_n, median_n, max_n })),
        active: activeAt(tauRows, tauF32),
        depth:
          depthRows === null ? null : (JSON.parse(depthRows) as [number, number, number, number][]).map(([d, positions, mass_sum, mass_err]) => ({ d, positions, mass_sum, mass_err })),
      };
    });
  }

  /**
   * singleRunFigures for a text or Markdown overview: only the figures it
   * prints, one `run_overview` row a group (schema 10; at 10⁵ groups, `--by
   * window`, seeking each run's shards, τ and summaries and building their JSON
   * was most of the time). A run without a row is left to the report's queries.
   */
  oneRunOverviews(): OneRunOverviewReader {
    const sel = this.#sel;
    if (sel === undefined) return { figures: () => undefined, close: () => {} };
    const covered = new Set(this.#coveringCohorts(sel).map((cohort) => cohort.grp));
    const rows = statements(this.#db).oneRunOverviews.iterate({ sel }) as IterableIterator<
      [grp: number | string, ord: number, positions: number, surprisalBits: number, figures: Buffer]
    >;
    return oneRunGroupReader(sel, covered, rows, (row) => ({ positions: row[2], surprisalBits: row[3], figures: row[4] }));
  }

  /** Drops the selection's rows (the temp table lives as long as the connection). */
  release(): void {
    if (this.#sel !== undefined) statements(this.#db).release.run(this.#sel);
    this.#sel = undefined;
  }

  /**
   * The fresh cohorts that stand for runs of the selection: a cohort whose
   * finished runs all lie in one group, none of them waiting to be rolled up.
   * Taken largest first; one that shares a run with a cohort already taken is
   * skipped, so no run is counted twice.
   */
  #coveringCohorts(sel: number): Covering[] {
    if (this.#covering !== undefined) return this.#covering;
    const s = statements(this.#db);
    const covering: Covering[] = [];
    for (const cohort of s.candidates.all({ sel }) as (CohortKey & { runs: number })[]) {
      const shape = { job_id: cohort.job_id, model_key: cohort.model_key, dmax: cohort.dmax, data_path: cohort.data_path };
      const fromJob = this.#jobId === cohort.job_id && this.#source === 'job' ? 1 : 0;
      const inSelection = s.shapeInSelection.get({ ...shape, sel, from_job: fromJob }) as { runs: number; grp: number | string | null; last_grp: number | string | null; some_run_key: number };
      if (inSelection.runs !== cohort.runs || inSelection.grp === null || inSelection.grp !== inSelection.last_grp) continue;
      if (s.pendingRollUp.get(shape) !== undefined) continue;
      const sameData = (taken: Covering) => taken.data_path === '' || cohort.data_path === '' || taken.data_path === cohort.data_path;
      const overlaps = covering.some(
        (taken) =>
          taken.model_key === cohort.model_key &&
          taken.dmax === cohort.dmax &&
          sameData(taken) &&
          s.sharedRuns.get({ ...shape, other: taken.job_id, other_data: taken.data_path }) !== undefined,
      );
      if (overlaps) continue;
      covering.push({ ...shape, runs: cohort.runs, grp: inSelection.grp, some_run_key: inSelection.some_run_key });
    }
    this.#covering = covering;
    return covering;
  }

  #planGroup(sel: number, grp: number | string, size: number): SelectionPlan {
    const s = statements(this.#db);
    const taken = this.#coveringCohorts(sel).filter((cohort) => cohort.grp === grp);
    const bind = (list: readonly Covering[]) => JSON.stringify(list.map((cohort) => [cohort.job_id, cohort.model_key, cohort.dmax, cohort.data_path]));
    const cohorts: CoveringCohort[] = taken.map((cohort) => {
      let members: SelectedRun[] | undefined;
      return {
        job_id: cohort.job_id,
        model_key: cohort.model_key,
        dmax: cohort.dmax,
        data_path: cohort.data_path,
        some_run_key: cohort.some_run_key,
        members: () => (members ??= s.members.all({ sel, grp, cohorts: bind([cohort]) }) as SelectedRun[]),
      };
    });
    // Cohorts never overlap, so when theirs add up to the group's size no run is left to read alone.
    const coveredRuns = taken.reduce((sum, cohort) => sum + cohort.runs, 0);
    const runs = coveredRuns === size ? [] : (s.uncovered.all({ sel, grp, cohorts: bind(taken) }) as SelectedRun[]);
    return { cohorts, runs };
  }
}
