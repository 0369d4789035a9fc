import { BYTE_VALUES, CLASS_COUNT, type PatternPeaks, type RangeResult, type SignificantCounts } from '../engine/index.js';
import type { Db } from './open.js';

/** Everything that identifies a run and is recorded about it before it starts. */
export interface RunRecord {
  readonly runId: string;
  readonly model: { readonly sha256: string; readonly path: string; readonly hidden: number; readonly significant: SignificantCounts };
  readonly data: { readonly path: string; readonly offset: number; readonly length: number; readonly sha256: string };
  readonly dmax: number;
  readonly gate: number;
  /** Thresholds as given (the float32 of each is what the engine compares). */
  readonly taus: readonly number[];
  /** N - 1. */
  readonly positions: number;
}

export interface JobRecord {
  readonly name: string;
  readonly sha256: string;
  readonly source: string | null;
  readonly specJson: string;
}

export interface CommittedRange {
  readonly start: number;
  readonly count: number;
}

const now = (): string => new Date().toISOString();

/**
 * Records a job and its runs (models, runs, thresholds, membership) in one
 * transaction. Runs already present (same identity) are kept as they are, so
 * re-running a job finds its earlier results. Returns the job's id.
 */
export function recordJob(db: Db, job: JobRecord, runs: readonly RunRecord[], toolVersion: string): number {
  const insertModel = db.prepare(
    `INSERT OR IGNORE INTO models (model_sha256, path, hidden, significant_wx, significant_wh, significant_wy, significant_total)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  );
  const insertRun = db.prepare(
    `INSERT OR IGNORE INTO runs (run_id, model_sha256, data_path, data_offset, data_length, data_sha256, dmax, gate,
       positions, status, tool_version, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)`,
  );
  const insertTau = db.prepare(`INSERT OR IGNORE INTO run_taus (run_id, tau_index, tau, tau_f32) VALUES (?, ?, ?, ?)`);
  const upsertJob = db.prepare(
    `INSERT INTO jobs (name, job_sha256, source, spec_json, created_at, last_started_at) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (job_sha256) DO UPDATE SET last_started_at = excluded.last_started_at, source = excluded.source
     RETURNING job_id`,
  );
  const insertMembership = db.prepare(`INSERT OR IGNORE INTO job_runs (job_id, run_id, run_order) VALUES (?, ?, ?)`);
  return db.transaction(() => {
    const started = now();
    const { job_id: jobId } = upsertJob.get(job.name, job.sha256, job.source, job.specJson, started, started) as { job_id: number };
    runs.forEach((run, order) => {
      const { model, data } = run;
      const s = model.significant;
      insertModel.run(model.sha256, model.path, model.hidden, s.wx, s.wh, s.wy, s.total);
      insertRun.run(run.runId, model.sha256, data.path, data.offset, data.length, data.sha256, run.dmax, run.gate, run.positions, toolVersion, started);
      run.taus.forEach((tau, index) => insertTau.run(run.runId, index, tau, Math.fround(tau)));
      insertMembership.run(jobId, run.runId, order);
    });
    return jobId;
  }).immediate();
}

/** The position ranges of a run committed so far, ascending. */
export function committedRanges(db: Db, runId: string): CommittedRange[] {
  return db.prepare(`SELECT start, count FROM shards WHERE run_id = ? ORDER BY start`).all(runId) as CommittedRange[];
}

/** The merged peak factors of a run's committed shards, if any. */
export function storedPeakFactors(db: Db, runId: string): Float32Array | undefined {
  const row = db.prepare(`SELECT peak_factors FROM runs WHERE run_id = ?`).get(runId) as { peak_factors: Buffer | null } | undefined;
  if (!row?.peak_factors) return undefined;
  const bytes = row.peak_factors;
  // Copy into an aligned buffer: the Buffer's offset need not be a multiple of 4.
  return new Float32Array(new Uint8Array(bytes).buffer);
}

export function runStatus(db: Db, runId: string): 'pending' | 'running' | 'done' | undefined {
  const row = db.prepare(`SELECT status FROM runs WHERE run_id = ?`).get(runId) as { status: 'pending' | 'running' | 'done' } | undefined;
  return row?.status;
}

/**
 * Writes one shard's results. Everything goes in one transaction: positions,
 * counts at every τ, depth mass, the shard's row and the run's merged peak
 * factors, so a kill leaves either the whole shard or none of it.
 */
export function shardWriter(db: Db) {
  const insertPosition = db.prepare(`INSERT INTO positions (run_id, t, y, surprisal_bits) VALUES (?, ?, ?, ?)`);
  const insertCount = db.prepare(`INSERT INTO counts (run_id, tau, t, n_x, n_h, n_y) VALUES (?, ?, ?, ?, ?, ?)`);
  const insertMass = db.prepare(`INSERT INTO depth_mass (run_id, d, t, mass) VALUES (?, ?, ?, ?)`);
  const insertShard = db.prepare(`INSERT INTO shards (run_id, start, count, seconds, committed_at) VALUES (?, ?, ?, ?, ?)`);
  const updateRun = db.prepare(
    `UPDATE runs SET peak_factors = ?, compute_seconds = compute_seconds + ?, status = 'running',
       started_at = coalesce(started_at, ?) WHERE run_id = ?`,
  );
  return db.transaction(
    (runId: string, taus: readonly number[], dmax: number, range: RangeResult, mergedPeakFactors: Float32Array, seconds: number) => {
      const T = taus.length;
      const slots = dmax + 1;
      for (let p = 0; p < range.count; p++) {
        const t = range.start + p;
        insertPosition.run(runId, t, range.targets[p], range.surprisal[p]);
        for (let k = 0; k < T; k++) {
          const base = (p * T + k) * CLASS_COUNT;
          insertCount.run(runId, taus[k], t, range.counts[base], range.counts[base + 1], range.counts[base + 2]);
        }
        const deepest = Math.min(t, dmax);
        for (let d = 0; d <= deepest; d++) insertMass.run(runId, d, t, range.depthMass[p * slots + d]);
      }
      const stamp = now();
      insertShard.run(runId, range.start, range.count, seconds, stamp);
      updateRun.run(Buffer.from(mergedPeakFactors.buffer, mergedPeakFactors.byteOffset, mergedPeakFactors.byteLength), seconds, stamp, runId);
    },
  );
}

/**
 * Completes a run: its pattern peaks (non-zero ones; a pattern absent from the
 * table never had a candidate) and status `done`, in one transaction.
 * Idempotent, so a run killed between its last shard and this step finishes on resume.
 */
export function finishRun(db: Db, runId: string, hidden: number, peaks: PatternPeaks): void {
  const H = hidden;
  const deletePeaks = db.prepare(`DELETE FROM pattern_peaks WHERE run_id = ?`);
  const insertPeak = db.prepare(`INSERT INTO pattern_peaks (run_id, class, src, dst, peak) VALUES (?, ?, ?, ?, ?)`);
  const markDone = db.prepare(`UPDATE runs SET status = 'done', finished_at = ?, peak_factors = NULL WHERE run_id = ?`);
  db.transaction(() => {
    deletePeaks.run(runId);
    // Identities per the spec: Wx (c, j), Wh (j → i), Wy (j, y) as (src, dst).
    for (let j = 0; j < H; j++) {
      for (let c = 0; c < BYTE_VALUES; c++) {
        const peak = peaks.wx[j * BYTE_VALUES + c];
        if (peak > 0) insertPeak.run(runId, 'wx', c, j, peak);
      }
    }
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < H; j++) {
        const peak = peaks.wh[i * H + j];
        if (peak > 0) insertPeak.run(runId, 'wh', j, i, peak);
      }
    }
    for (let y = 0; y < BYTE_VALUES; y++) {
      for (let j = 0; j < H; j++) {
        const peak = peaks.wy[y * H + j];
        if (peak > 0) insertPeak.run(runId, 'wy', j, y, peak);
      }
    }
    markDone.run(now(), runId);
  }).immediate();
}
