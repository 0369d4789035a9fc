import { createHash } from 'node:crypto';
import { DEFAULT_RULE, identityText, SCALED_GATE, significantCounts, type Computation } from '../engine/index.js';
import { dataFileSize, loadModel, scanDataWindow, type LoadedModel } from '../model/index.js';
import type { RunRecord } from '../store/index.js';
import { burnInOf, windowsOf, type JobSpec } from './spec.js';

/** A run to compute: its record plus which of the job's models it uses. */
export interface PlannedRun extends RunRecord {
  readonly modelIndex: number;
}

export interface ExpandedJob {
  readonly spec: JobSpec;
  /** SHA-256 of the job's runs: the same job (same contents) gets the same job row. */
  readonly sha256: string;
  readonly models: readonly LoadedModel[];
  readonly runs: readonly PlannedRun[];
}

/** What makes a run's results: the inputs' content, the burn-in and every parameter of the computation (identityText). */
export function runIdentity(fields: { modelSha256: string; dataSha256: string; burnIn?: number } & Computation): string {
  return createHash('sha256').update(identityText(fields, fields)).digest('hex').slice(0, 16);
}

/**
 * Expands a job into runs, one per model × window × Dmax. Each window is read
 * once here in pieces to hash its content, so memory stays bounded however
 * long the sweep and its windows. A window identical to an earlier one (same
 * content and parameters) is the same run and listed once.
 */
export function expandJob(spec: JobSpec, log: (line: string) => void): ExpandedJob {
  const models = spec.models.map((path) => loadModel(path));
  const runs: PlannedRun[] = [];
  const seen = new Set<string>();
  const sizes = new Map<string, number>();
  models.forEach((loaded, modelIndex) => {
    const significant = significantCounts(loaded.model);
    for (const source of spec.data) {
      let size = sizes.get(source.path);
      if (size === undefined) {
        size = dataFileSize(source.path);
        sizes.set(source.path, size);
      }
      const burnIn = burnInOf(source);
      for (const window of windowsOf(source, size)) {
        // A warm window is read with its burn-in bytes; its hash is of them all.
        const data = scanDataWindow(source.path, window.offset, window.length, burnIn);
        for (const dmax of spec.dmax) {
          const computation: Computation = { rule: spec.rule ?? DEFAULT_RULE, dmax, gate: SCALED_GATE, taus: spec.tau };
          const runId = runIdentity({ modelSha256: loaded.sha256, dataSha256: data.sha256, burnIn, ...computation });
          if (seen.has(runId)) {
            log(`${source.path} at offset ${window.offset}${burnIn > 0 ? ` (burn-in ${burnIn})` : ''}: same content and parameters as an earlier window; computed once (run ${runId})`);
            continue;
          }
          seen.add(runId);
          runs.push({
            runId,
            modelIndex,
            model: { sha256: loaded.sha256, path: loaded.path, hidden: loaded.model.hidden, significant },
            data: { path: source.path, offset: window.offset, length: data.bytes - burnIn, sha256: data.sha256, burnIn },
            ...computation,
            positions: data.bytes - burnIn - 1,
            depthCurves: spec.depthCurves === true,
            keep: spec.keep ?? 'full',
          });
        }
      }
    }
  });
  const sha256 = createHash('sha256').update(JSON.stringify({ name: spec.name, runs: runs.map((run) => run.runId) })).digest('hex');
  return { spec, sha256, models, runs };
}
