/**
 * `value` with `decimals` fixed decimals and commas between thousands, exactly as
 * `new Intl.NumberFormat('en-US', { minimumFractionDigits: decimals,
 * maximumFractionDigits: decimals }).format(value)` prints it. Written out
 * because the first Intl number format costs 13–19 ms of ICU start-up, which
 * every report and every `run` paid.
 */
export function thousands(value: number, decimals = 0): string {
  if (Number.isNaN(value)) return 'NaN';
  const sign = value < 0 || Object.is(value, -0) ? '-' : '';
  const magnitude = Math.abs(value);
  if (magnitude === Infinity) return `${sign}∞`;
  const fixed = roundShortest(magnitude, decimals).padStart(decimals + 1, '0');
  const whole = fixed.slice(0, fixed.length - decimals).replace(/\B(?=(\d{3})+$)/g, ',');
  return decimals > 0 ? `${sign}${whole}.${fixed.slice(fixed.length - decimals)}` : `${sign}${whole}`;
}

/**
 * The digits of `magnitude` rounded to `decimals` places, without the point. Like
 * Intl, it rounds half away from zero on the shortest decimal form of the number
 * (1.005 → 1.01), not on its binary value as toFixed does (1.00).
 */
function roundShortest(magnitude: number, decimals: number): string {
  const [mantissa, exponent = '0'] = String(magnitude).split('e');
  const [integer, fraction = ''] = mantissa.split('.');
  const digits = integer + fraction;
  const keep = integer.length + Number(exponent) + decimals; // digits left of the rounding place
  if (keep < 0) return '0';
  if (keep >= digits.length) return (digits + '0'.repeat(keep - digits.length)).replace(/^0+(?=\d)/, '');
  let kept = digits.slice(0, keep);
  if (digits[keep] >= '5') {
    // Add one at the last kept digit, carrying.
    let k = kept.length - 1;
    while (k >= 0 && kept[k] === '9') k--;
    kept = k < 0 ? `1${'0'.repeat(kept.length)}` : `${kept.slice(0, k)}${Number(kept[k]) + 1}${'0'.repeat(kept.length - k - 1)}`;
  }
  return kept.replace(/^0+(?=\d)/, '') || '0';
}
