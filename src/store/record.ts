import type { Computation, SignificantCounts } from '../engine/index.js';
import type { Db } from './db.js';
import { refreshStaleRollups } from './rollups.js';
import { TAU_LIST_OF } from './schema.js';

/** Everything that identifies a run and is recorded about it before it starts: its inputs and its computation (rule, dmax, gate, taus). */
export interface RunRecord extends Computation {
  readonly runId: string;
  readonly model: { readonly sha256: string; readonly path: string; readonly hidden: number; readonly significant: SignificantCounts };
  /**
   * The window [offset, offset + length) of the data file, read after its `burnIn`
   * bytes before it (absent: 0, a cold window); `sha256` is of the bytes read,
   * burn-in and window.
   */
  readonly data: { readonly path: string; readonly offset: number; readonly length: number; readonly sha256: string; readonly burnIn?: number };
  /** N - 1. */
  readonly positions: number;
  /** Keep every position's depth mass at every offset (`depth_mass`), not only the shard sums. */
  readonly depthCurves: boolean;
  /** 'summaries': drop the per-position rows and pattern peaks once the run is done (default 'full'). */
  readonly keep?: 'full' | 'summaries';
}

export interface JobRecord {
  readonly name: string;
  readonly sha256: string;
  readonly source: string | null;
  readonly specJson: string;
}

export const now = (): string => new Date().toISOString();

/**
 * Records a job and its runs (models, runs, thresholds, membership) in one
 * transaction. Runs already present (same identity) are kept as they are, with
 * their depth-curve and retention settings, so re-running a job finds its earlier results.
 * Returns the job's id.
 */
export function recordJob(db: Db, job: JobRecord, runs: readonly RunRecord[], toolVersion: string): number {
  const insertModel = db.prepare(
    `INSERT INTO models (model_sha256, path, hidden, significant_wx, significant_wh, significant_wy, significant_total)
     VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (model_sha256) DO NOTHING`,
  );
  const modelKey = db.prepare(`SELECT model_key FROM models WHERE model_sha256 = ?`).pluck();
  const insertRun = db.prepare(
    `INSERT INTO runs (run_id, model_key, data_path, data_offset, data_length, data_sha256, dmax, gate,
       positions, depth_curves, keep, status, tool_version, created_at, rule, burn_in)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?) ON CONFLICT (run_id) DO NOTHING`,
  );
  const runKey = db.prepare(`SELECT run_key FROM runs WHERE run_id = ?`).pluck();
  const insertTau = db.prepare(`INSERT OR IGNORE INTO run_taus (run_key, tau_index, tau, tau_f32) VALUES (?, ?, ?, ?)`);
  const upsertJob = db
    .prepare(
      `INSERT INTO jobs (name, job_sha256, source, spec_json, created_at, last_started_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (job_sha256) DO UPDATE SET last_started_at = excluded.last_started_at, source = excluded.source
       RETURNING job_id`,
    )
    .pluck();
  const setTauList = db.prepare(`UPDATE runs SET tau_list = ${TAU_LIST_OF('runs.run_key')} WHERE run_key = ?`);
  const insertMembership = db.prepare(`INSERT OR IGNORE INTO job_runs (job_id, run_key, run_order) VALUES (?, ?, ?)`);
  return db
    .transaction(() => {
      const started = now();
      const jobId = upsertJob.get(job.name, job.sha256, job.source, job.specJson, started, started) as number;
      runs.forEach((run, order) => {
        const { model, data } = run;
        const s = model.significant;
        insertModel.run(model.sha256, model.path, model.hidden, s.wx, s.wh, s.wy, s.total);
        const key = modelKey.get(model.sha256) as number;
        insertRun.run(run.runId, key, data.path, data.offset, data.length, data.sha256, run.dmax, run.gate, run.positions, run.depthCurves ? 1 : 0, run.keep ?? 'full', toolVersion, started, run.rule, data.burnIn ?? 0);
        const rk = runKey.get(run.runId) as number;
        run.taus.forEach((tau, index) => insertTau.run(rk, index, tau, Math.fround(tau)));
        setTauList.run(rk);
        insertMembership.run(jobId, rk, order);
      });
      // A new job, or one that gained runs finished by another, gets its rollups from their summaries.
      refreshStaleRollups(db);
      return jobId;
    })
    .immediate();
}
