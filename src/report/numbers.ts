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
  const fixed = digitsOf(magnitude, decimals);
  const whole = withCommas(fixed.slice(0, fixed.length - decimals));
  return decimals > 0 ? `${sign}${whole}.${fixed.slice(fixed.length - decimals)}` : `${sign}${whole}`;
}

/** The digits of `magnitude` with `decimals` decimals, without the point, at least one before it. */
function digitsOf(magnitude: number, decimals: number): string {
  // A whole number below 10^21 prints without an exponent: its digits as they are (the common case, a count;
  // a report of 10⁵ groups formats millions of them).
  if (Number.isInteger(magnitude) && magnitude < 1e21) return decimals === 0 ? String(magnitude) : `${magnitude}${ZEROS[decimals] ?? '0'.repeat(decimals)}`;
  return roundShortest(magnitude, decimals).padStart(decimals + 1, '0');
}

const ZEROS = ['', '0', '00', '000', '0000'];

/** Commas between thousands of a run of digits (sliced, not a regular expression: a report of 10⁵ groups prints millions). */
function withCommas(digits: string): string {
  const length = digits.length;
  if (length <= 3) return digits;
  let head = length % 3 || 3;
  let text = digits.slice(0, head);
  for (; head < length; head += 3) text += `,${digits.slice(head, head + 3)}`;
  return text;
}

/**
 * The digits of `magnitude` rounded to `decimals` places, without the point. Like
 * Intl, it rounds half away from zero on the shortest decimal form of the number
 * (1.005 → 1.01), not on its binary value as toFixed does (1.00).
 */
function roundShortest(magnitude: number, decimals: number): string {
  const text = String(magnitude);
  const e = text.indexOf('e');
  const mantissa = e < 0 ? text : text.slice(0, e);
  const exponent = e < 0 ? 0 : Number(text.slice(e + 1));
  const point = mantissa.indexOf('.');
  const integer = point < 0 ? mantissa : mantissa.slice(0, point);
  const digits = point < 0 ? mantissa : integer + mantissa.slice(point + 1);
  const keep = integer.length + exponent + decimals; // digits left of the rounding place
  if (keep < 0) return '0';
  if (keep >= digits.length) return withoutLeadingZeros(digits + '0'.repeat(keep - digits.length));
  let kept = digits.slice(0, keep);
  if (digits[keep] >= '5') {
    // Add one at the last kept digit, carrying.
    let k = kept.length - 1;
    while (k >= 0 && kept[k] === '9') k--;
    kept = k < 0 ? `1${'0'.repeat(kept.length)}` : `${kept.slice(0, k)}${Number(kept[k]) + 1}${'0'.repeat(kept.length - k - 1)}`;
  }
  return withoutLeadingZeros(kept) || '0';
}

/** `digits` without its leading zeros, keeping the last digit ("000" → "0"). */
function withoutLeadingZeros(digits: string): string {
  return digits.charCodeAt(0) === 48 ? digits.replace(/^0+(?=\d)/, '') : digits;
}
