import { resolve } from 'node:path';
import { InputError } from '../errors.js';
import { findJob, findRunKeys, latestJob, listRuns, RunSelection, type Db, type GroupKey, type GroupKeyName, type RunGroup, type RunRow } from '../store/index.js';
import type { Grouping } from './choices.js';

/** Which runs a report or export covers. Default: the most recently started job. */
export interface Selection {
  readonly job?: string;
  readonly runs?: readonly string[];
  readonly all?: boolean;
  /** A model's sha256 prefix or file path. */
  readonly model?: string;
  readonly dmax?: number;
  /** A data file path. */
  readonly data?: string;
}

/** The selected runs, held in SQL (store/selected.ts): nothing per run in memory. */
export function selectRunSet(db: Db, selection: Selection, dbPath: string): RunSelection {
  const filter = {
    model: selection.model === undefined ? undefined : { sha256Prefix: selection.model, path: resolve(selection.model) },
    dmax: selection.dmax,
    dataPath: selection.data === undefined ? undefined : resolve(selection.data),
  };
  let runs: RunSelection;
  if (selection.runs && selection.runs.length > 0) {
    runs = RunSelection.of(db, { ...filter, runKeys: findRunKeys(db, selection.runs, dbPath) });
  } else if (selection.all) {
    runs = RunSelection.of(db, filter);
  } else {
    const job = selection.job !== undefined ? findJob(db, selection.job, dbPath) : latestJob(db);
    if (job === undefined) throw new InputError(`database ${dbPath}: holds no job yet (run \`sparsetrace run\` first)`);
    runs = RunSelection.of(db, { ...filter, jobId: job.job_id });
  }
  if (runs.size === 0) throw new InputError(`the selection matches no run in ${dbPath} (see \`sparsetrace runs\`)`);
  return runs;
}

/** The selected runs as rows (for commands that work run by run: explain, export). */
export function selectRuns(db: Db, selection: Selection, dbPath: string): RunRow[] {
  const runs = selectRunSet(db, selection, dbPath);
  const ids = runs.runIds();
  runs.release();
  const byId = new Map(listRuns(db).map((run) => [run.run_id, run]));
  return ids.map((id) => byId.get(id) as RunRow);
}

/** How a report splits its selection: the keys, the groups in order, and the notes that say why. */
export interface GroupedSelection {
  /** The keys grouped by (empty: one group, the whole selection). */
  readonly keys: readonly GroupKeyName[];
  readonly groups: readonly RunGroup[];
  /** Each line says what was grouped or pooled and why (for stderr and the page). */
  readonly notes: readonly string[];
  /** Runs that differ in Dmax pooled on purpose (--pool, or runs named one by one). */
  readonly pooled: boolean;
}

export interface GroupingRequest {
  readonly by?: readonly Grouping[];
  /** Pool runs of different Dmax into one figure, as asked (--pool; runs named with --run). */
  readonly pool?: boolean;
  /** The runs were named one by one (--run): pooling them is what was asked. */
  readonly named?: boolean;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * Groups a selection so that no figure mixes what does not add up: runs of
 * several models are always split by model (pattern counts only add up within
 * one), runs of several τ lists by τ list (figures per τ compare within one),
 * runs of several attribution rules by rule (each rule scores differently),
 * runs of several burn-ins by burn-in (a warm window is not a cold one),
 * runs of several Dmax by Dmax unless pooling is asked for. Each split or pool
 * the user did not ask for is said in a note.
 */
export function groupSelection(runs: RunSelection, request: GroupingRequest): GroupedSelection {
  const [grouped] = groupSelections([runs], request);
  return { ...grouped.plan, groups: grouped.groups };
}

/**
 * groupSelection over the selections of several stores (report --db A --db B):
 * the keys are chosen from what all of them mix together, so every store is
 * split the same way and a group of one compares with the same group of another.
 */
export function groupSelections(
  selections: readonly RunSelection[],
  request: GroupingRequest,
): { plan: Omit<GroupedSelection, 'groups'>; groups: readonly RunGroup[] }[] {
  const plan = groupingPlan(selections, request);
  return selections.map((runs) => ({ plan, groups: runs.groupBy(plan.keys) }));
}

/** The keys and notes of groupSelections, without grouping (a report then streams each selection's groups: RunSelection.streamGroups). */
export function groupingPlan(selections: readonly RunSelection[], request: GroupingRequest): Omit<GroupedSelection, 'groups'> {
  const mixes = selections.map((runs) => runs.describe());
  const distinct = <T>(values: readonly T[]): T[] => [...new Set(values)];
  const models = distinct(mixes.flatMap((mix) => mix.models.map((model) => model.sha256)));
  const dmax = distinct(mixes.flatMap((mix) => mix.dmax)).sort((a, b) => a - b);
  const tauLists = distinct(mixes.flatMap((mix) => mix.tauLists));
  const rules = distinct(mixes.flatMap((mix) => mix.rules));
  const burnIns = distinct(mixes.flatMap((mix) => mix.burnIns)).sort((a, b) => a - b);
  const dataFiles = distinct(mixes.flatMap((mix) => mix.dataFiles));
  const asked = [...(request.by ?? [])];
  const keys: GroupKeyName[] = [...asked];
  const notes: string[] = [];
  if (models.length > 1 && !keys.includes('model')) {
    keys.unshift('model');
    notes.push(`note: the selected runs use ${models.length} models: one row per model${asked.length > 0 ? ` (grouped by model too)` : ' (--by model)'}; pick one with --model`);
  }
  let pooled = false;
  if (dmax.length > 1 && !keys.includes('dmax')) {
    if (request.pool || request.named) {
      pooled = true;
      notes.push(`note: pooling ${request.named ? 'the named runs' : 'runs'} of Dmax ${dmax.join(', ')} as asked; --by dmax separates them`);
    } else {
      keys.push('dmax');
      notes.push(
        `note: the selected runs use Dmax ${dmax.join(', ')}: one row per Dmax${asked.length > 0 ? ' (grouped by Dmax too)' : ' (--by dmax)'}; pick one with --dmax, or pool them with --pool`,
      );
    }
  }
  if (rules.length > 1) {
    keys.push('rule');
    notes.push(`note: the selected runs use ${rules.length} attribution rules (${rules.join(', ')}): one row per rule; their figures are not comparable`);
  }
  if (burnIns.length > 1) {
    keys.push('burn_in');
    notes.push(
      `note: the selected runs use ${burnIns.length} burn-ins (${burnIns.join(', ')} bytes read before each window): one row per burn-in; warm and cold windows are not the same computation`,
    );
  }
  if (tauLists.length > 1) {
    keys.push('taus');
    notes.push(`note: the selected runs use ${tauLists.length} different τ lists (${tauLists.map(formatTauList).join(' | ')}): one row per τ list; figures per τ only compare within one`);
  }
  if (!keys.includes('window') && !keys.includes('data') && dataFiles.length > 1) {
    const windows = selections.reduce((sum, runs) => sum + runs.windowCount(), 0);
    notes.push(`note: figures pool ${plural(windows, 'window')} of ${plural(dataFiles.length, 'data file')} (${dataFiles.join(', ')}); --by window gives one row per window, --by data one per file, --data picks a file`);
  }
  return { keys, notes, pooled };
}

/** Labels of the τ seen so far: a report of 10⁵ groups labels the same few τ in every group. */
const tauLabels = new Map<number, string>();

/** τ with the fewest digits that identify its float32 (as the tables print it). */
export function formatTau(tau: number): string {
  let label = tauLabels.get(tau);
  if (label === undefined) {
    label = shortestTau(tau);
    // Bounded: a store's τ are few, but nothing here may grow without end.
    if (tauLabels.size >= 1024) tauLabels.clear();
    tauLabels.set(tau, label);
  }
  return label;
}

function shortestTau(tau: number): string {
  const single = Math.fround(tau);
  for (let digits = 1; digits <= 9; digits++) {
    const candidate = Number(single.toPrecision(digits));
    if (Math.fround(candidate) === single) return String(candidate);
  }
  return String(single);
}

/** A stored τ list ("0.001,0.01,…") as the tables print τ. */
export function formatTauList(list: string): string {
  return list.split(',').map(Number).map(formatTau).join(',');
}

/** A group key's value for one key, as tables and CSV print it (Dmax as a number). */
export function groupValue(key: GroupKey, name: GroupKeyName): string | number {
  switch (name) {
    case 'model':
      return key.model === undefined ? '' : `${key.model.path} (${key.model.sha256.slice(0, 12)})`;
    case 'data':
      return key.data ?? '';
    case 'window':
      return key.window === undefined ? '' : `${key.window.path}@${key.window.offset}+${key.window.length}`;
    case 'dmax':
      return key.dmax ?? '';
    case 'job':
      return key.job === undefined ? '' : `${key.job.id} ${key.job.name}`;
    case 'taus':
      return key.taus === undefined ? '' : formatTauList(key.taus);
    case 'rule':
      return key.rule ?? '';
    case 'burn_in':
      return key.burn_in ?? '';
  }
}

/** A column heading for a key. */
export function keyHeading(name: GroupKeyName): string {
  return name === 'dmax' ? 'Dmax' : name === 'taus' ? 'τ list' : name === 'burn_in' ? 'burn-in' : name;
}

/**
 * The thresholds of `available` that the wanted values name: a value names the τ
 * equal to it as float32, or the one it rounds (0.0178 names 0.0177827941004).
 */
export function matchTaus(available: readonly number[], wanted: readonly number[]): number[] {
  return wanted.map((value) => {
    const exact = available.filter((tau) => Math.fround(tau) === Math.fround(value));
    if (exact.length > 0) return exact[0];
    const digits = significantDigits(value);
    const rounded = available.filter((tau) => Number(tau.toPrecision(digits)) === value);
    if (rounded.length === 1) return rounded[0];
    const shown = available.map((tau) => String(Number(Math.fround(tau).toPrecision(7)))).join(', ');
    if (rounded.length === 0) throw new InputError(`--tau ${value}: no threshold of the selected runs is ${value} (they have ${shown})`);
    throw new InputError(`--tau ${value}: names ${rounded.length} thresholds (${rounded.join(', ')}); give more digits`);
  });
}

/** Significant digits of a number as written shortest (0.0178 → 3, 1e-5 → 1). */
function significantDigits(value: number): number {
  const mantissa = value.toExponential().split('e')[0].replace('-', '').replace('.', '');
  return Math.max(1, mantissa.length);
}
