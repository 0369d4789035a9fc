/**
 * Cohorts: a job's finished runs of one model, Dmax and data file, whose
 * rollups (rollups.ts) stand for them in reports. Their key and the SQL that
 * places a run in one, shared by the writer, the rollups and the report's plans.
 */

/** A cohort's key as one string (a Map key: rollUp's batches, the writer's held cohorts). */
export function cohortId(key: CohortKey): string {
  return JSON.stringify([key.job_id, key.model_key, key.dmax, key.data_path]);
}

/** A cohort's key. */
export interface CohortKey {
  readonly job_id: number;
  readonly model_key: number;
  readonly dmax: number;
  /** Its runs' data file; '' for a cohort of every data file (one schema 6 kept, see COHORT_DATA_OF). */
  readonly data_path: string;
}

/**
 * The data key of the cohort of run `r` in job `jr.job_id`: its data file, or ''
 * when the job's runs of that model and Dmax have a cohort of every data file
 * (schema 6's, kept by the migration where its runs' peaks are gone, so it
 * could not be split: new runs join it rather than start a cohort of their file).
 */
export const COHORT_DATA_OF = `CASE WHEN EXISTS (SELECT 1 FROM job_cohorts every WHERE every.job_id = jr.job_id AND every.model_key = r.model_key
  AND every.dmax = r.dmax AND every.data_path = '') THEN '' ELSE r.data_path END`;

/** SQL: run `r` of job `jr` belongs to the cohort bound as @job_id, @model_key, @dmax, @data_path. */
export const IN_COHORT = `jr.job_id = @job_id AND r.model_key = @model_key AND r.dmax = @dmax AND (@data_path = '' OR r.data_path = @data_path)`;
