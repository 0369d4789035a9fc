import { BYTE_VALUES } from '../engine/index.js';
import { gatherSurprise, type SurpriseReport } from './surprise.js';
import { gatherFrequency, type FrequencyReport } from './frequency.js';
import { InputError } from '../errors.js';
import {
  activeOf,
  activePatterns,
  depthOf,
  depthProfile,
  modelOf,
  sparsityOfOneRun,
  surprisalOf,
  selectionModels,
  sparsityByTau,
  surprisalSummary,
  type Db,
  type ActivePatternsRow,
  type DepthRow,
  type ModelRow,
  type OneRunOverviewReader,
  type RunGroup,
  type RunSelection,
  type SingleRunReader,
  type SparsityRow,
  type SurprisalRow,
  type Runs,
  PAGE_TAU,
  OVERVIEW_FIGURES_PER_TAU,
  OverviewFigureDecoder,
} from '../store/index.js';

/**
 * The results page as data, every figure from a SQL aggregation in store/queries.ts.
 * Field names are those of the JSON format.
 */
export interface Report {
  /** The runs' ids (JSON's `runs`): a getter, read from the store when first asked for (at 10⁵ runs a tenth of a second that text and CSV, which print only their number, do not pay). */
  readonly runs: readonly string[];
  /** How many runs (`runs.length`, without reading their ids). */
  readonly runCount: number;
  readonly model: {
    readonly sha256: string;
    readonly hidden: number;
    readonly significant: { readonly wx: number; readonly wh: number; readonly wy: number; readonly total: number };
  };
  readonly positions: number;
  readonly bpc: number | null;
  readonly sparsity: readonly { tau: number; mean: number; median: number; min: number; max: number; fraction: number }[];
  readonly classes: readonly { tau: number; mean_wx: number; mean_wh: number; mean_wy: number; wh_share: number | null }[];
  readonly never_active: {
    readonly tau: number;
    readonly wx: ClassNever;
    readonly wh: ClassNever;
    readonly wy: ClassNever;
    readonly total: ClassNever;
  };
  /** 1 - never_h / H². */
  readonly wh_active_somewhere: number;
  readonly depth: readonly { d: number; mean_mass: number; fraction: number | null }[];
  /** The offset d ≥ 1 with the largest mean mass. */
  readonly depth_peak: { d: number; mean_mass: number; fraction: number | null } | null;
  /** Sparsity against surprise (surprise.ts), when its section is asked for: it reads every position. */
  readonly surprise?: SurpriseReport;
  /** Activation frequency (frequency.ts), when its section is asked for. */
  readonly frequency?: FrequencyReport;
}

export interface ClassNever {
  readonly never: number;
  readonly of: number;
}

export const DEFAULT_NEVER_TAU = PAGE_TAU;

function singleModel(models: readonly ModelRow[]): ModelRow {
  if (models.length === 0) throw new InputError('report: the selection holds no runs');
  if (models.length > 1) {
    throw new InputError(
      `report: the selected runs use ${models.length} models (${models.map((m) => m.path).join(', ')}); ` +
        'pattern counts only add up within one model: use --by model, or select runs of one model (--model)',
    );
  }
  return models[0];
}

/** Builds the report for a selection of runs of one model. */
export function gatherReport(db: Db, runs: Runs, neverTau = DEFAULT_NEVER_TAU): Report {
  const ids = Array.isArray(runs) ? (runs as readonly string[]) : undefined;
  const group = runs as RunGroup;
  const model = singleModel(selectionModels(db, runs));
  return reportOf({
    runCount: ids?.length ?? group.size,
    runIds: ids === undefined ? () => group.runIds() : () => ids,
    model,
    surprisal: surprisalSummary(db, runs),
    byTau: sparsityByTau(db, runs),
    active: activePatterns(db, runs, Math.fround(neverTau)),
    neverTau,
    profile: () => depthProfile(db, runs),
  });
}

/** What a report is made of, as the store's queries give it (gatherReport), or as read for many groups at once (groupReports). */
export interface ReportFigures {
  readonly runCount: number;
  /** The runs' ids, read when the report's `runs` is first asked for. */
  readonly runIds: () => readonly string[];
  readonly model: ModelRow;
  readonly surprisal: SurprisalRow;
  readonly byTau: readonly SparsityRow[];
  readonly active: readonly ActivePatternsRow[];
  readonly neverTau: number;
  /** Read last, as gatherReport always has. */
  readonly profile: () => readonly DepthRow[];
}

/** The report from its figures: the one place a report's fields are computed. */
export function reportOf(figures: ReportFigures): Report {
  const { model, neverTau } = figures;
  const H = model.hidden;
  const significant = { wx: model.significant_wx, wh: model.significant_wh, wy: model.significant_wy, total: model.significant_total };
  const { positions, bpc } = figures.surprisal;
  const byTau = figures.byTau;
  const sparsity = byTau.map((row) => ({
    tau: row.tau,
    mean: row.mean,
    median: row.median,
    min: row.min,
    max: row.max,
    fraction: row.mean / significant.total,
  }));
  const classes = byTau.map((row) => ({
    tau: row.tau,
    mean_wx: row.mean_wx,
    mean_wh: row.mean_wh,
    mean_wy: row.mean_wy,
    wh_share: row.mean > 0 ? row.mean_wh / row.mean : null,
  }));

  const active = new Map(figures.active.map((row) => [row.class, row.active]));
  const classNever = (cls: 'wx' | 'wh' | 'wy', of: number): ClassNever => ({ never: of - (active.get(cls) ?? 0), of });
  const wx = classNever('wx', BYTE_VALUES * H);
  const wh = classNever('wh', H * H);
  const wy = classNever('wy', H * BYTE_VALUES);
  const total = { never: wx.never + wh.never + wy.never, of: wx.of + wh.of + wy.of };

  const profile = figures.profile();
  const base = profile.find((row) => row.d === 0)?.mean_mass;
  const depth = profile.map((row) => ({ d: row.d, mean_mass: row.mean_mass, fraction: base ? row.mean_mass / base : null }));
  const deeper = depth.filter((row) => row.d >= 1);
  const depthPeak = deeper.length === 0 ? null : deeper.reduce((best, row) => (row.mean_mass > best.mean_mass ? row : best));

  let runIds: readonly string[] | undefined;
  return {
    get runs(): readonly string[] {
      return (runIds ??= figures.runIds());
    },
    runCount: figures.runCount,
    model: { sha256: model.model_sha256, hidden: H, significant },
    positions,
    bpc,
    sparsity,
    classes,
    never_active: { tau: neverTau, wx, wh, wy, total },
    wh_active_somewhere: 1 - wh.never / wh.of,
    depth,
    depth_peak: depthPeak,
  };
}

/** What a grouped text or Markdown overview prints of a group: its Report's fields of these names. */
export interface OverviewFigures {
  readonly runCount: number;
  readonly positions: number;
  readonly bpc: number | null;
  readonly sparsity: readonly { readonly tau: number; readonly mean: number; readonly median: number }[];
}

const overviewFigures = new OverviewFigureDecoder();

/**
 * A group's overview figures (OverviewFigures) in arrays reused from group to
 * group: a text overview of 10⁵ groups writes its lines from these rather than
 * from a few objects per group and τ.
 */
export class OverviewRows {
  runCount = 0;
  positions = 0;
  bpc: number | null = null;
  /** How many τ rows (sparsity's rows): the first `count` of tau, mean and median. */
  count = 0;
  tau = new Float64Array(8);
  mean = new Float64Array(8);
  median = new Float64Array(8);

  /** Room for `count` τ rows (their values are not kept). */
  reserve(count: number): void {
    if (count <= this.tau.length) return;
    this.tau = new Float64Array(count);
    this.mean = new Float64Array(count);
    this.median = new Float64Array(count);
  }

  /** These rows hold `figures`. */
  set(figures: OverviewFigures): this {
    const { sparsity } = figures;
    this.reserve(sparsity.length);
    this.runCount = figures.runCount;
    this.positions = figures.positions;
    this.bpc = figures.bpc;
    this.count = sparsity.length;
    for (let k = 0; k < sparsity.length; k++) {
      this.tau[k] = sparsity[k].tau;
      this.mean[k] = sparsity[k].mean;
      this.median[k] = sparsity[k].median;
    }
    return this;
  }

  /** Keeps the rows whose τ `keep` says (in order). */
  filter(keep: (tau: number) => boolean): void {
    let kept = 0;
    for (let k = 0; k < this.count; k++) {
      if (!keep(this.tau[k])) continue;
      this.tau[kept] = this.tau[k];
      this.mean[kept] = this.mean[k];
      this.median[kept] = this.median[k];
      kept += 1;
    }
    this.count = kept;
  }

  /** What these rows hold, as OverviewFigures. */
  figures(): OverviewFigures {
    const sparsity: { tau: number; mean: number; median: number }[] = [];
    for (let k = 0; k < this.count; k++) sparsity.push({ tau: this.tau[k], mean: this.mean[k], median: this.median[k] });
    return { runCount: this.runCount, positions: this.positions, bpc: this.bpc, sparsity };
  }
}

/**
 * The reports of a selection's groups, asked for in group order: a group that
 * is one finished run from the figures the selection streams for all of them
 * (RunSelection.singleRunFigures: one statement, not a few queries per group),
 * any other group with gatherReport. Both make the report with reportOf from
 * the same figures, so they print the same bytes. `depth`: stream the depth
 * profiles too (a format that prints them for every group); else a report
 * that needs one reads it with its query.
 */
export class GroupReports {
  readonly #db: Db;
  readonly #runs: RunSelection;
  readonly #neverTau: number;
  /** Whether the reports' depth profiles are printed (set by the formatter before the first report); when not, none is read. */
  depthShown = true;
  readonly #depth: boolean;
  /** Opened with the first report, once the selection is grouped. */
  #reader: SingleRunReader | undefined;
  readonly #models = new Map<number, ModelRow>();

  readonly #perGroupQueries: boolean;
  /** Groups reported from the streamed figures so far. */
  streamed = 0;
  /** Opened with the first overview asked for. */
  #overviews: OneRunOverviewReader | undefined;
  /** Groups whose overview came from the streamed overview figures so far. */
  overviewsStreamed = 0;

  /** `perGroupQueries`: every group with gatherReport (the reference the streamed figures are tested against). */
  constructor(db: Db, runs: RunSelection, neverTau = DEFAULT_NEVER_TAU, depth = false, perGroupQueries = false) {
    this.#db = db;
    this.#runs = runs;
    this.#neverTau = neverTau;
    this.#depth = depth;
    this.#perGroupQueries = perGroupQueries;
  }

  report(group: RunGroup): Report {
    // (A group of several runs never opens the statement: reports of a few large groups do not scan the selection for one-run groups.)
    if (this.#perGroupQueries || group.size !== 1) return gatherReport(this.#db, group, this.#neverTau);
    this.#reader ??= this.#runs.singleRunFigures(Math.fround(this.#neverTau), this.#depth);
    const figures = this.#reader.figures(group);
    // Without its active counts at the τ asked for, or with a τ given twice (whose rows merge by histogram), the queries answer.
    if (figures === undefined || figures.active === null || new Set(figures.taus.map((row) => row.tau)).size !== figures.taus.length) {
      return gatherReport(this.#db, group, this.#neverTau);
    }
    let model = this.#models.get(figures.model_key);
    if (model === undefined) {
      model = modelOf(this.#db, figures.model_key);
      this.#models.set(figures.model_key, model);
    }
    const { depth, active } = figures;
    this.streamed += 1;
    return reportOf({
      runCount: 1,
      runIds: () => [figures.run_id],
      model,
      surprisal: surprisalOf(figures.shards),
      byTau: sparsityOfOneRun(figures.taus),
      active: activeOf(active),
      neverTau: this.#neverTau,
      profile: () => (depth !== null ? depthOf(depth) : this.depthShown ? depthProfile(this.#db, group) : []),
    });
  }

  /**
   * A one-run group's overview figures, read for all such groups by one lean
   * statement (RunSelection.oneRunOverviews): what `report(group)` gives in
   * these fields, made by the same functions from the same stored values,
   * without the rest of a report. Undefined for any other group (and a run
   * with a τ given twice, whose rows merge by histogram): ask `report`.
   */
  overview(group: RunGroup): OverviewFigures | undefined {
    if (this.#perGroupQueries || group.size !== 1) return undefined;
    this.#overviews ??= this.#runs.oneRunOverviews();
    const stored = this.#overviews.figures(group);
    if (stored === undefined) return undefined;
    const rows = new OverviewRows();
    if (!this.stored(stored.positions, stored.surprisalBits, overviewFigures.decode(stored.figures), rows)) return undefined;
    this.overviewsStreamed += 1;
    return rows.figures();
  }

  /**
   * A one-run group's overview from its run's `run_overview` row, into `rows`:
   * what `report(group)` gives in these fields, made by the same functions from
   * the same stored values. False (rows unset) when its report must answer: a
   * run without --never-tau among its τ (its report answers, or fails, as it
   * does without the active counts there), or with a τ given twice (whose rows
   * merge by histogram).
   */
  stored(positions: number, surprisalBits: number, values: Float64Array, rows: OverviewRows): boolean {
    const neverTauF32 = Math.fround(this.#neverTau);
    const stride = OVERVIEW_FIGURES_PER_TAU;
    const length = values.length;
    rows.reserve(length / stride);
    let count = 0;
    let hasNeverTau = false;
    const { tau: taus, mean, median } = rows;
    for (let at = 0; at < length; at += stride) {
      const tau = values[at];
      for (let before = 0; before < at; before += stride) if (values[before] === tau) return false;
      if (values[at + 1] === neverTauF32) hasNeverTau = true;
      const tauPositions = values[at + 2];
      if (!(tauPositions > 0)) continue;
      // sparsityOfOneRun's rows: the τ with positions, ascending (distinct: sorted in place), mean and median n as it computes them.
      let k = count++;
      for (; k > 0 && taus[k - 1] > tau; k--) {
        taus[k] = taus[k - 1];
        mean[k] = mean[k - 1];
        median[k] = median[k - 1];
      }
      taus[k] = tau;
      mean[k] = values[at + 3] / tauPositions;
      median[k] = values[at + 4];
    }
    if (!hasNeverTau) return false;
    rows.count = count;
    rows.runCount = 1;
    rows.positions = positions;
    // surprisalOf's bpc: the exact sum (stored rounded once) over the positions.
    rows.bpc = positions === 0 ? null : surprisalBits / positions;
    return true;
  }

  /** Ends the reads (the statements streaming the groups' figures). */
  close(): void {
    this.#reader?.close();
    this.#overviews?.close();
  }
}

/** `report` with its surprise section at its τ, when `wanted`. */
export function withSurprise(db: Db, runs: Runs, report: Report, wanted: boolean): Report {
  if (!wanted) return report;
  const gathered = gatherSurprise(db, runs, report.sparsity.map((row) => row.tau));
  if (gathered.tooMany !== undefined) throw new InputError(`report: ${gathered.tooMany}`);
  return { ...report, surprise: gathered.report };
}

/** The report with its frequency section when asked for. */
export function withFrequency(db: Db, runs: Runs, report: Report, wanted: boolean): Report {
  return wanted ? { ...report, frequency: gatherFrequency(db, runs, report.model.hidden) } : report;
}
