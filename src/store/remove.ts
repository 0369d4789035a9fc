import type { Db } from './db.js';
import { refreshStaleRollups } from './rollups.js';

/**
 * Deleting runs and jobs with every row they own (`sparsetrace rm`). The tables
 * are found in the database itself, not listed here: every table with a
 * `run_key` column loses the selected runs' rows, every table with a `job_id`
 * column the selected jobs' rows, `models` the models no run uses any more. So
 * tables added by later schemas (summaries, rollups) are covered without a
 * change here. Tables are emptied children first (from their foreign keys),
 * with foreign keys deferred to the commit as well, in one transaction.
 */

/** What to delete: runs by id, jobs by id (a job's runs go too, unless another job has them). */
export interface RemovalRequest {
  readonly runIds: readonly string[];
  readonly jobIds: readonly number[];
}

export interface RemovedRun {
  readonly run_key: number;
  readonly run_id: string;
  readonly status: 'pending' | 'running' | 'done';
  readonly positions: number;
  /** Committed positions (the sum of its shards). */
  readonly positions_done: number;
}

/** A run of a selected job kept because other jobs have it too. */
export interface KeptRun {
  readonly run_id: string;
  readonly other_jobs: readonly number[];
}

export interface RemovalPlan {
  readonly runs: readonly RemovedRun[];
  readonly kept: readonly KeptRun[];
  /** The selected jobs, and jobs left with no run. */
  readonly jobs: readonly { readonly job_id: number; readonly name: string }[];
  /** Models no remaining run uses. */
  readonly models: readonly { readonly model_key: number; readonly model_sha256: string; readonly path: string }[];
  /** The rows each table loses, in the order they are deleted (tables that lose none left out). */
  readonly tables: readonly { readonly table: string; readonly rows: number }[];
}

/** A table name as an SQL identifier. */
const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** The keys a table's rows are deleted by; undefined when the table has none of them. */
interface KeyedTable {
  readonly name: string;
  readonly columns: readonly ('run_key' | 'job_id' | 'model_key')[];
}

/** Every table of the database with a run_key or job_id column (and models), children before their parents. */
function keyedTables(db: Db): KeyedTable[] {
  const names = db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name`).pluck().all() as string[];
  const columnsOf = db.prepare(`SELECT name FROM pragma_table_info(?)`).pluck();
  const keyed = new Map<string, KeyedTable>();
  for (const name of names) {
    const columns = new Set(columnsOf.all(name) as string[]);
    const keys = (['run_key', 'job_id'] as const).filter((key) => columns.has(key));
    if (name === 'models') keyed.set(name, { name, columns: ['model_key'] });
    else if (keys.length > 0) keyed.set(name, { name, columns: keys });
  }
  // Children first: a table is deleted from before every table its foreign keys reference.
  const parentsOf = db.prepare(`SELECT DISTINCT "table" FROM pragma_foreign_key_list(?)`).pluck();
  const children = new Map<string, string[]>();
  for (const name of keyed.keys()) {
    for (const parent of parentsOf.all(name) as string[]) {
      if (parent !== name && keyed.has(parent)) children.set(parent, [...(children.get(parent) ?? []), name]);
    }
  }
  const ordered: KeyedTable[] = [];
  const seen = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name)) return;
    seen.add(name);
    for (const child of children.get(name) ?? []) visit(child);
    ordered.push(keyed.get(name) as KeyedTable);
  };
  for (const name of keyed.keys()) visit(name);
  // visit() puts each table after its children; a cycle (none today) is left to the deferred check.
  return ordered;
}

/** The WHERE clause of a table's rows to delete, and its parameters: JSON arrays of keys. */
function condition(table: KeyedTable, keys: { runKeys: string; jobIds: string; modelKeys: string }): { where: string; params: string[] } {
  const parts = table.columns.map((column) => `${column} IN (SELECT value FROM json_each(?))`);
  const params = table.columns.map((column) => (column === 'run_key' ? keys.runKeys : column === 'job_id' ? keys.jobIds : keys.modelKeys));
  return { where: parts.join(' OR '), params };
}

interface Resolved {
  readonly plan: RemovalPlan;
  readonly tables: readonly KeyedTable[];
  readonly keys: { runKeys: string; jobIds: string; modelKeys: string };
}

function resolve(db: Db, request: RemovalRequest): Resolved {
  const jobIds = JSON.stringify(request.jobIds);
  // A selected job's runs, with the jobs outside the selection that have them too.
  const jobRuns = db
    .prepare(
      `SELECT r.run_id, (SELECT group_concat(o.job_id) FROM job_runs o
                          WHERE o.run_key = jr.run_key AND o.job_id NOT IN (SELECT value FROM json_each(@jobs))) AS others
         FROM job_runs jr JOIN runs r USING (run_key)
        WHERE jr.job_id IN (SELECT value FROM json_each(@jobs)) ORDER BY jr.job_id, jr.run_order`,
    )
    .all({ jobs: jobIds }) as { run_id: string; others: string | null }[];
  const explicit = new Set(request.runIds);
  const kept: KeptRun[] = [];
  const selected = new Set(request.runIds);
  for (const { run_id, others } of jobRuns) {
    if (others !== null && !explicit.has(run_id)) {
      if (!kept.some((run) => run.run_id === run_id)) kept.push({ run_id, other_jobs: others.split(',').map(Number).sort((a, b) => a - b) });
    } else {
      selected.add(run_id);
    }
  }
  const runs = db
    .prepare(
      `SELECT r.run_key, r.run_id, r.status, r.positions,
              (SELECT coalesce(sum(count), 0) FROM shards s WHERE s.run_key = r.run_key) AS positions_done
         FROM runs r WHERE r.run_id IN (SELECT value FROM json_each(?)) ORDER BY r.run_key`,
    )
    .all(JSON.stringify([...selected])) as RemovedRun[];
  const runKeys = JSON.stringify(runs.map((run) => run.run_key));
  // The selected jobs, and the jobs every run of which goes.
  const jobs = db
    .prepare(
      `SELECT j.job_id, j.name FROM jobs j
        WHERE j.job_id IN (SELECT value FROM json_each(@jobs))
           OR (EXISTS (SELECT 1 FROM job_runs jr WHERE jr.job_id = j.job_id)
               AND NOT EXISTS (SELECT 1 FROM job_runs jr WHERE jr.job_id = j.job_id AND jr.run_key NOT IN (SELECT value FROM json_each(@runs))))
        ORDER BY j.job_id`,
    )
    .all({ jobs: jobIds, runs: runKeys }) as { job_id: number; name: string }[];
  const models = db
    .prepare(
      `SELECT m.model_key, m.model_sha256, m.path FROM models m
        WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.model_key = m.model_key AND r.run_key NOT IN (SELECT value FROM json_each(?)))
        ORDER BY m.model_key`,
    )
    .all(runKeys) as { model_key: number; model_sha256: string; path: string }[];
  const keys = { runKeys, jobIds: JSON.stringify(jobs.map((job) => job.job_id)), modelKeys: JSON.stringify(models.map((model) => model.model_key)) };
  const tables = keyedTables(db);
  const counts = tables.flatMap((table) => {
    const { where, params } = condition(table, keys);
    const rows = db.prepare(`SELECT count(*) FROM ${quote(table.name)} WHERE ${where}`).pluck().get(...params) as number;
    return rows > 0 ? [{ table: table.name, rows }] : [];
  });
  return { plan: { runs, kept, jobs, models, tables: counts }, tables, keys };
}

/** What removing `request` would delete, deleting nothing (works on a read-only connection). */
export function planRemoval(db: Db, request: RemovalRequest): RemovalPlan {
  return resolve(db, request).plan;
}

/**
 * Deletes what `request` selects, in one IMMEDIATE transaction: every row of the
 * runs, the jobs and the models planRemoval lists. The caller holds the writer
 * lock. Returns the plan, its row counts being the rows deleted.
 */
export function removeSelection(db: Db, request: RemovalRequest): RemovalPlan {
  return db
    .transaction((): RemovalPlan => {
      const { plan, tables, keys } = resolve(db, request);
      // The order above keeps foreign keys at every step; deferring them covers a cycle a later schema might add.
      db.pragma('defer_foreign_keys = ON');
      const deleted = tables.flatMap((table) => {
        const { where, params } = condition(table, keys);
        const { changes } = db.prepare(`DELETE FROM ${quote(table.name)} WHERE ${where}`).run(...params);
        return changes > 0 ? [{ table: table.name, rows: changes }] : [];
      });
      // The rollups of a job that lost some of its runs are made again from those it keeps.
      refreshStaleRollups(db);
      return { ...plan, tables: deleted };
    })
    .immediate();
}

/** The database's size in bytes as SQLite counts it (pages × page size), WAL included. */
export function databaseBytes(db: Db): number {
  return (db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number);
}
