/**
 * The computation a run performs, named once: the attribution rules and the
 * parameters every run carries (rule, Dmax, gate, τ). A job picks a rule
 * ("rule" in a job file, `--rule`); the run record carries it to the run
 * identity (job/expand.ts, identityText here), the store (`runs.rule`), the
 * queue's batches, the kernel (trace.wat's `$rule`, by the code of its `@rule`
 * line) and `explain` (wxFactor here).
 *
 * Adding a rule that changes the Wx factor: an entry in RULES, its `@rule` line
 * and branch in trace.wat's `$inputs`, and its formula in the plain
 * implementation of the tests (test/plain/plainQ1.ts). Nothing else names rules.
 */

const fround = Math.fround;

/** Wh candidates are skipped when |scaled[i]| < 1e-8, compared in float32 (spec, step 4). */
export const SCALED_GATE = fround(1e-8);

/** Pattern classes, in the order counts are laid out: n_x, n_h, n_y. */
export type PatternClass = 'wx' | 'wh' | 'wy';
export const CLASS_COUNT = 3;

/** One attribution rule. */
export interface AttributionRule {
  /** One line for --help and error messages. */
  readonly summary: string;
  /**
   * The `computation` a run identity hashes (job/expand.ts). q1's is the string
   * every earlier run id was made with, so existing stores keep their run ids.
   */
  readonly identity: string;
  /**
   * The factor f[j] of the Wx candidate |float32(Wx[j][c]·f[j])| at offset d ≥ 1
   * (and of the depth mass at d, their float32 sum over j), from the new b[j] of
   * spec step 4 and h_{t-d}[j]. Written plainly, as `explain` computes it; the
   * kernel computes the same in trace.wat.
   */
  wxFactor(b: number, hBefore: number): number;
}

/** The rules, by name (the name is what job files, `--rule`, the store and the queue say). */
export const RULES = {
  q1: {
    summary: 'the spec (shared/spec/q1-sparsity.md): the Wx candidate at offset d is |Wx[j][c]·b[j]|',
    identity: 'q1-sparsity/1 (fdlibm tanhf)',
    wxFactor: (b: number): number => b,
  },
  'gated-wx': {
    summary: "the Wx candidate at offset d also carries neuron j's tanh derivative at step t - d: |Wx[j][c]·(1 - h_{t-d}[j]²)·b[j]|",
    identity: 'q1-sparsity/1 (fdlibm tanhf) gated-wx/1',
    wxFactor: (b: number, hBefore: number): number => fround(fround(1 - fround(hBefore * hBefore)) * b),
  },
} as const satisfies Record<string, AttributionRule>;

export type RuleName = keyof typeof RULES;
export const RULE_NAMES = Object.keys(RULES) as RuleName[];
/** The spec's rule: what a job without "rule" computes. */
export const DEFAULT_RULE: RuleName = 'q1';

export function isRuleName(value: unknown): value is RuleName {
  return typeof value === 'string' && Object.hasOwn(RULES, value);
}

/** The allowed rules as messages list them: "q1" or "gated-wx". */
export function ruleChoices(): string {
  const quoted = RULE_NAMES.map((name) => JSON.stringify(name));
  return `${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]}`;
}

/** The parameters of a run's computation, besides its inputs. */
export interface Computation {
  readonly rule: RuleName;
  readonly dmax: number;
  /** SCALED_GATE: recorded per run (runs.gate) and hashed into its identity. */
  readonly gate: number;
  /** Thresholds as given (the float32 of each is what the engine compares and the identity hashes). */
  readonly taus: readonly number[];
}

/**
 * What a run identity hashes: the inputs' content and the computation. Unchanged
 * for q1 since 0.1.0. A warm window (burn-in B > 0) hashes the bytes the network
 * reads, burn-in and window (`dataSha256`), and B, where the traced positions
 * begin; a cold one (B = 0) hashes what it always did.
 */
export function identityText(inputs: { readonly modelSha256: string; readonly dataSha256: string; readonly burnIn?: number }, computation: Computation): string {
  const burnIn = inputs.burnIn ?? 0;
  return JSON.stringify({
    computation: RULES[computation.rule].identity,
    model: inputs.modelSha256,
    data: inputs.dataSha256,
    ...(burnIn > 0 ? { burnIn } : {}),
    dmax: computation.dmax,
    gate: computation.gate,
    taus: computation.taus.map((tau) => fround(tau)),
  });
}
