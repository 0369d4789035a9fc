/**
 * Work units: what a position costs is about its backward chain, min(t, Dmax)
 * steps (min(t + B, Dmax) after a burn-in of B bytes), plus the step that every position takes. Progress and ETAs count these
 * rather than positions, so a run at Dmax 40 weighs four times one at Dmax 10.
 */

/** Σ_{t=0}^{n-1} min(t, dmax). */
function chainStepsBefore(n: number, dmax: number): number {
  const ramp = Math.min(n, dmax + 1); // t = 0 .. min(dmax, n - 1)
  return (ramp * (ramp - 1)) / 2 + Math.max(0, n - dmax - 1) * dmax;
}

/** Work units of positions [start, start + count) at `dmax` after a burn-in of `burnIn` bytes: Σ (1 + min(t + burnIn, dmax)). */
export function workUnits(start: number, count: number, dmax: number, burnIn = 0): number {
  return count + chainStepsBefore(start + burnIn + count, dmax) - chainStepsBefore(start + burnIn, dmax);
}
