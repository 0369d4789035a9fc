import { resolve } from 'node:path';
import { applyOverrides, defaultJob, DEFAULT_DB, loadJobFile, type JobOverrides } from '../job/index.js';
import { planJob } from '../plan/plan.js';
import { formatPlan } from '../report/plan.js';
import { inProcessSettings } from './inProcess.js';
import { threadsForJob } from '../runner/threads.js';
import { log, out } from './output.js';

export interface PlanArgs extends JobOverrides {
  readonly job?: string;
  readonly threads?: number;
  readonly format: 'text' | 'json';
}

/** `sparsetrace plan [job]`: what `run` would do, without doing it. */
export function planCommand(args: PlanArgs): number {
  const base = args.job !== undefined ? loadJobFile(args.job) : defaultJob();
  const spec = applyOverrides(base, args);
  const database = spec.db ?? DEFAULT_DB;
  const plan = planJob(spec, {
    threads: args.threads ?? threadsForJob(spec),
    database: resolve(database) === resolve(DEFAULT_DB) ? DEFAULT_DB : database,
    calibrationSeconds: inProcessSettings().planCalibrationSeconds,
    engineCost: inProcessSettings().planEngineCost,
    log,
  });
  out(formatPlan(plan, args.format));
  return 0;
}
