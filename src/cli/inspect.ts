import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { InputError } from '../errors.js';
import { DEFAULT_DB } from '../job/index.js';
import { formatDuration } from '../runner/progress.js';
import { formatReport, reportJson, type ReportFormat } from '../report/format.js';
import { gatherReport } from '../report/gather.js';
import { groupRuns, selectRuns, type Grouping, type Selection } from '../report/select.js';
import { csvCell, renderCsv, renderMarkdown, renderText, type Table } from '../report/table.js';
import { adHocQuery, recentRate, liveLockHolder, listJobs, listRuns, openDatabase, positionCounts, type Db, type RunRow } from '../store/index.js';
import { log, out } from './output.js';

function withDatabase<T>(path: string | undefined, body: (db: Db, path: string) => T, readonly = true): T {
  const dbPath = path ?? DEFAULT_DB;
  const db = openDatabase(dbPath, { readonly });
  try {
    return body(db, dbPath);
  } finally {
    db.close();
  }
}

function warnIncomplete(runs: readonly RunRow[]): void {
  const unfinished = runs.filter((run) => run.status !== 'done');
  if (unfinished.length > 0) {
    log(
      `note: ${unfinished.length} of ${runs.length} selected runs are not finished (${unfinished.map((run) => `${run.run_id} ${run.positions_done}/${run.positions}`).join(', ')}); ` +
        'figures cover the positions computed so far, never-active counts only finished runs',
    );
  }
}

export function printReport(db: Db, runs: readonly RunRow[], dbPath: string, options: { format: ReportFormat; by?: Grouping; neverTau?: number }): void {
  warnIncomplete(runs);
  const models = new Set(runs.map((run) => run.model_sha256));
  const by = options.by ?? (models.size > 1 ? 'model' : undefined);
  if (by === undefined) {
    out(formatReport(gatherReport(db, runs.map((run) => run.run_id), options.neverTau), options.format));
    return;
  }
  if (by !== 'model' && models.size > 1) {
    throw new InputError(`report --by ${by}: the selected runs use ${models.size} models; add --model to pick one, or use --by model`);
  }
  const groups = groupRuns(runs, by).map((group) => ({ key: group.key, report: gatherReport(db, group.runs.map((run) => run.run_id), options.neverTau) }));
  if (options.format === 'json') {
    out(`${JSON.stringify({ by, groups: groups.map((group) => ({ group: group.key, ...(reportJson(group.report) as object) })) }, null, 1)}\n`);
    return;
  }
  // One row per group: the headline figures and, per τ, mean and median n.
  const taus = [...new Set(groups.flatMap((group) => group.report.sparsity.map((row) => row.tau)))].sort((a, b) => a - b);
  const table: Table = {
    title: `Q1 sparsity by ${by} (${runs.length} runs, ${dbPath})`,
    columns: [by, 'runs', 'positions', 'bpc', ...taus.flatMap((tau) => [`mean n τ=${tau}`, `median n τ=${tau}`])],
    rows: groups.map(({ key, report }) => [
      key,
      String(report.runs.length),
      String(report.positions),
      report.bpc === null ? '' : options.format === 'csv' ? String(report.bpc) : report.bpc.toFixed(4),
      ...taus.flatMap((tau) => {
        const row = report.sparsity.find((entry) => entry.tau === tau);
        if (!row) return ['', ''];
        return [options.format === 'csv' ? String(row.mean) : row.mean.toFixed(1), String(row.median)];
      }),
    ]),
  };
  out(options.format === 'csv' ? renderCsv(table) : options.format === 'md' ? renderMarkdown(table) : renderText(table));
}

export function reportCommand(args: Selection & { db?: string; format: ReportFormat; by?: Grouping; neverTau?: number }): number {
  return withDatabase(args.db, (db, dbPath) => {
    printReport(db, selectRuns(db, args, dbPath), dbPath, args);
    return 0;
  });
}

/**
 * `export`: per-position counts as CSV. Rows stream from SQLite in chunks; to a
 * file they go through a temporary name renamed at the end, so a failed export
 * never leaves a truncated file under the name asked for.
 */
export function exportCommand(args: Selection & { db?: string; out?: string }): number {
  return withDatabase(args.db, (db, dbPath) => {
    const runs = selectRuns(db, args, dbPath);
    if (runs.length > 1 && !args.all) {
      throw new InputError(`export: the selection holds ${runs.length} runs; pick one with --run ID, or export them all with --all (adds a run column)`);
    }
    const withRunColumn = args.all === true;
    warnIncomplete(runs);
    const temporary = args.out !== undefined ? `${args.out}.partial-${process.pid}` : undefined;
    let fd: number | undefined;
    try {
      if (temporary !== undefined) fd = openOutput(temporary, args.out as string);
      const lines: string[] = [withRunColumn ? 'run,t,y,tau,n_x,n_h,n_y' : 't,y,tau,n_x,n_h,n_y'];
      const flush = (): void => {
        const text = `${lines.join('\n')}\n`;
        if (fd !== undefined) writeSync(fd, text);
        else out(text);
        lines.length = 0;
      };
      for (const row of positionCounts(db, runs.map((run) => run.run_id))) {
        const fields = [row.t, row.y, row.tau, row.n_x, row.n_h, row.n_y].join(',');
        lines.push(withRunColumn ? `${row.run_id},${fields}` : fields);
        if (lines.length >= 10_000) flush();
      }
      flush();
      if (fd !== undefined) {
        closeSync(fd);
        fd = undefined;
        renameSync(temporary as string, args.out as string);
      }
    } finally {
      if (fd !== undefined) closeSync(fd);
      if (temporary !== undefined) rmSync(temporary, { force: true });
    }
    return 0;
  });
}

function openOutput(temporary: string, path: string): number {
  try {
    return openSync(temporary, 'w');
  } catch (error) {
    throw new InputError(`--out ${path}: cannot write: ${(error as Error).message}`);
  }
}

export function sqlCommand(args: { db?: string; query: string; format: 'text' | 'json' | 'csv'; write: boolean }): number {
  return withDatabase(
    args.db,
    (db) => {
      let result: { columns: string[]; rows: unknown[][] };
      try {
        result = adHocQuery(db, args.query);
      } catch (error) {
        throw new InputError(`sql: ${(error as Error).message}${/readonly/i.test((error as Error).message) ? ' (the database is opened read-only; pass --write to change it)' : ''}`);
      }
      const { columns, rows } = result;
      if (args.format === 'json') {
        out(`${JSON.stringify(rows.map((row) => Object.fromEntries(columns.map((column, k) => [column, toJsonValue(row[k])]))), null, 1)}\n`);
      } else if (args.format === 'csv') {
        out([columns.map(csvCell).join(','), ...rows.map((row) => row.map(csvCell).join(','))].join('\n') + '\n');
      } else if (columns.length > 0) {
        out(renderText({ columns, rows: rows.map((row) => row.map((cell) => (cell === null ? 'NULL' : String(cell)))), alignRight: columns.map((_, k) => rows.every((row) => typeof row[k] === 'number' || typeof row[k] === 'bigint')) }));
        log(`(${rows.length} row${rows.length === 1 ? '' : 's'})`);
      }
      return 0;
    },
    !args.write,
  );
}

function toJsonValue(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (Buffer.isBuffer(value)) return value.toString('base64');
  return value;
}

export function runsCommand(args: { db?: string; format: 'text' | 'json' | 'csv' }): number {
  return withDatabase(args.db, (db) => {
    const runs = listRuns(db);
    if (args.format === 'json') {
      out(`${JSON.stringify(runs, null, 1)}\n`);
      return 0;
    }
    const table: Table = {
      columns: ['run', 'status', 'model', 'H', 'data', 'offset', 'length', 'Dmax', 'τ', 'positions', 'compute s'],
      rows: runs.map((run) => [
        run.run_id,
        run.status,
        run.model_sha256.slice(0, 12),
        String(run.hidden),
        run.data_path,
        String(run.data_offset),
        String(run.data_length),
        String(run.dmax),
        run.taus,
        `${run.positions_done}/${run.positions}`,
        run.compute_seconds.toFixed(2),
      ]),
      alignRight: [false, false, false, true, false, true, true, true, false, true, true],
    };
    out(args.format === 'csv' ? renderCsv(table) : renderText(table));
    return 0;
  });
}

/** `status`: every job's runs, where each stands, and rate and ETA while a writer is live. */
export function statusCommand(args: { db?: string }): number {
  return withDatabase(args.db, (db, dbPath) => {
    const writer = liveLockHolder(db);
    const jobs = listJobs(db);
    if (jobs.length === 0) {
      out(`${dbPath}: no jobs yet\n`);
      return 0;
    }
    out(writer ? `${dbPath}: being written by process ${writer.pid} on ${writer.host} (${writer.command}), since ${writer.started_at}\n\n` : `${dbPath}: no live writer\n\n`);
    for (const job of jobs) {
      const runs = listRuns(db, job.job_id);
      const done = runs.reduce((sum, run) => sum + run.positions_done, 0);
      const total = runs.reduce((sum, run) => sum + run.positions, 0);
      out(`job ${job.job_id} ${job.name}${job.source ? ` (${job.source})` : ''}: ${job.runs_done}/${job.runs} runs done, ${done}/${total} positions\n`);
      const live = writer !== undefined && runs.some((run) => run.status === 'running') && job === jobs[jobs.length - 1];
      if (live && done < total) {
        const rate = recentRate(db, runs.map((run) => run.run_id));
        if (rate > 0) out(`  live: ${rate.toFixed(0)} positions/s, ETA ${formatDuration((total - done) / rate)}\n`);
      }
      const table: Table = {
        columns: ['run', 'state', 'positions', 'data', 'Dmax', 'compute'],
        rows: runs.map((run) => [
          run.run_id,
          runState(run, live),
          `${run.positions_done}/${run.positions}`,
          `${run.data_path}@${run.data_offset}+${run.data_length}`,
          String(run.dmax),
          formatDuration(run.compute_seconds),
        ]),
        alignRight: [false, false, true, false, true, true],
      };
      out(renderText(table).replace(/^/gm, '  ') + '\n');
    }
    return 0;
  });
}

function runState(run: RunRow, live: boolean): string {
  if (run.status === 'done') return 'done';
  if (run.positions_done === 0) return 'pending';
  return live ? 'running' : 'interrupted';
}
