/**
 * The Q1 sparsity engine (spec: shared/spec/q1-sparsity.md). Pure functions on
 * typed arrays, no I/O and no Node APIs, so it runs the same in a worker and in
 * a test. Typical use for one window:
 *
 *   const states = forwardStates(model, bytes);
 *   const tables = traceTables(model);            // once per model (per worker)
 *   const range = traceRange({ model, bytes, states, thresholds, dmax }, tables, 0, bytes.length - 1);
 *   const peaks = patternPeaks(model, range.peakFactors);
 */
export { BYTE_VALUES, modelFloatCount, modelFromFloats, type Model } from './model.js';
// The spec's tanhf (the C library's), which the plain test implementation shares.
export { tanhf } from './tanhf.js';
export { forwardKernel, forwardStates } from './forward.js';
export type { ForwardKernel } from './chain.js';
export {
  CLASS_COUNT,
  DEFAULT_RULE,
  identityText,
  isRuleName,
  ruleChoices,
  RULE_NAMES,
  RULES,
  SCALED_GATE,
  type AttributionRule,
  type Computation,
  type PatternClass,
  type RuleName,
} from './computation.js';
export {
  traceRange,
  traceTables,
  type RangeResult,
  type TraceInput,
  type TraceTables,
} from './trace.js';
export { frequencyLength } from './trace-kernel.js';
export { patternPeaks, patternPeaksInKernel, significantCounts, type PatternPeaks, type SignificantCounts } from './patterns.js';
export { ExactSum } from './exactSum.js';
export {
  RangeView,
  summarizeRangeInKernel,
  setPatternPeakRow,
  emptyPatternPeaks,
  mergePatternPeakRows,
  firstPatternPeakRows,
  type RangeSummary,
  type PatternPeakRow,
} from './results.js';
