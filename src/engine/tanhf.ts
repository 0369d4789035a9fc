/**
 * Single-precision tanh exactly as the classic SunPro/fdlibm `tanhf` computes it
 * (glibc up to 2.40, FreeBSD msun, newlib): through fdlibm's `expm1f`, every
 * operation rounded to float32. It is not correctly rounded, and the published
 * figures depend on its exact results (spec, "tanhf"), so this is a literal port.
 */

const fround = Math.fround;

// Bit-level access to a float32, as GET_FLOAT_WORD / SET_FLOAT_WORD do in C.
const wordView = new DataView(new ArrayBuffer(4));
function floatWord(x: number): number {
  wordView.setFloat32(0, x, true);
  return wordView.getInt32(0, true);
}
function wordFloat(word: number): number {
  wordView.setInt32(0, word | 0, true);
  return wordView.getFloat32(0, true);
}

const LN2_HI = wordFloat(0x3f317180);
const LN2_LO = wordFloat(0x3717f7d1);
const INVLN2 = wordFloat(0x3fb8aa3b);
const Q1 = wordFloat(0xbd088889 | 0);
const Q2 = wordFloat(0x3ad00d01);
const Q3 = wordFloat(0xb8a670cd | 0);
const Q4 = wordFloat(0x36867e54);
const Q5 = wordFloat(0xb457edbb | 0);
const O_THRESHOLD = wordFloat(0x42b17180);
const HUGE = fround(1.0e30);
const TINY = fround(1.0e-30);

/** fdlibm `expm1f`: e^x - 1 in float32, branch for branch. */
export function expm1f(xIn: number): number {
  let x = fround(xIn);
  let hx = floatWord(x);
  const negative = hx < 0;
  hx &= 0x7fffffff;

  // Huge and non-finite arguments.
  if (hx >= 0x4195b844) {
    // |x| >= 27 ln2
    if (hx >= 0x42b17218) {
      if (hx > 0x7f800000) return x + x; // NaN
      if (hx === 0x7f800000) return negative ? -1 : x;
      if (x > O_THRESHOLD) return Infinity;
    }
    if (negative) return fround(TINY - 1);
  }

  let hi: number;
  let lo: number;
  let k: number;
  let c = 0;
  if (hx > 0x3eb17218) {
    // |x| > 0.5 ln2: argument reduction
    if (hx < 0x3f851592) {
      // and |x| < 1.5 ln2
      if (!negative) {
        hi = fround(x - LN2_HI);
        lo = LN2_LO;
        k = 1;
      } else {
        hi = fround(x + LN2_HI);
        lo = -LN2_LO;
        k = -1;
      }
    } else {
      // C converts the float to int by truncation toward zero.
      k = Math.trunc(fround(fround(INVLN2 * x) + (negative ? -0.5 : 0.5)));
      const t = k;
      hi = fround(x - fround(t * LN2_HI));
      lo = fround(t * LN2_LO);
    }
    x = fround(hi - lo);
    c = fround(fround(hi - x) - lo);
  } else if (hx < 0x33000000) {
    // |x| < 2^-25: the result is x itself.
    const t = fround(HUGE + x);
    return fround(x - fround(t - fround(HUGE + x)));
  } else {
    k = 0;
  }

  // x is now in the primary range.
  const hfx = fround(0.5 * x);
  const hxs = fround(x * hfx);
  const r1 = fround(
    1 + fround(hxs * fround(Q1 + fround(hxs * fround(Q2 + fround(hxs * fround(Q3 + fround(hxs * fround(Q4 + fround(hxs * Q5))))))))),
  );
  const t3 = fround(3 - fround(r1 * hfx));
  let e = fround(hxs * fround(fround(r1 - t3) / fround(6 - fround(x * t3))));
  if (k === 0) return fround(x - fround(fround(x * e) - hxs));

  e = fround(fround(x * fround(e - c)) - c);
  e = fround(e - hxs);
  if (k === -1) return fround(fround(0.5 * fround(x - e)) - 0.5);
  if (k === 1) {
    if (x < -0.25) return fround(-2 * fround(e - fround(x + 0.5)));
    return fround(1 + fround(2 * fround(x - e)));
  }
  if (k <= -2 || k > 56) {
    // exp(x) - 1 is exp(x) to float precision: scale 1 - (e - x) by 2^k.
    let y = fround(1 - fround(e - x));
    y = wordFloat(floatWord(y) + (k << 23));
    return fround(y - 1);
  }
  let y: number;
  if (k < 23) {
    const t = wordFloat(0x3f800000 - (0x1000000 >> k)); // 1 - 2^-k
    y = fround(t - fround(e - x));
  } else {
    const t = wordFloat((0x7f - k) << 23); // 2^-k
    y = fround(x - fround(e + t));
    y = fround(y + 1);
  }
  return wordFloat(floatWord(y) + (k << 23));
}

/** fdlibm `tanhf`. */
export function tanhf(xIn: number): number {
  const x = fround(xIn);
  const jx = floatWord(x);
  const ix = jx & 0x7fffffff;

  if (ix >= 0x7f800000) {
    // tanh(+-inf) = +-1, tanh(NaN) = NaN
    return jx >= 0 ? fround(fround(1 / x) + 1) : fround(fround(1 / x) - 1);
  }

  let z: number;
  if (ix < 0x41b00000) {
    // |x| < 22
    if (ix === 0) return x; // +-0
    if (ix < 0x24000000) return fround(x * fround(1 + x)); // |x| < 2^-55
    if (ix >= 0x3f800000) {
      // |x| >= 1
      const t = expm1f(fround(2 * Math.abs(x)));
      z = fround(1 - fround(2 / fround(t + 2)));
    } else {
      const t = expm1f(fround(-2 * Math.abs(x)));
      z = fround(-t / fround(t + 2));
    }
  } else {
    z = fround(1 - TINY); // |x| >= 22: +-1
  }
  return jx >= 0 ? z : -z;
}
