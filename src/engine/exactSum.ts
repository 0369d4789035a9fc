/**
 * An exact sum of doubles (Shewchuk's non-overlapping partials, as Python's
 * math.fsum): the result does not depend on the order of the additions, so a
 * depth profile or a bpc summed per shard and then over shards is the same
 * number however the positions were cut into shards or resumed.
 */
export class ExactSum {
  /** partials[0 .. count): increasing magnitude, non-overlapping; the array only grows (no length changes on the hot path). */
  private readonly partials: number[] = [];
  private count = 0;

  add(value: number): void {
    const partials = this.partials;
    let x = value;
    let kept = 0;
    for (let k = 0; k < this.count; k++) {
      let y = partials[k];
      if (Math.abs(x) < Math.abs(y)) {
        const swap = x;
        x = y;
        y = swap;
      }
      const hi = x + y;
      const lo = y - (hi - x);
      if (lo !== 0) partials[kept++] = lo;
      x = hi;
    }
    partials[kept] = x;
    this.count = kept + 1;
  }

  /** The exact sum rounded once to the nearest double (ties to even). */
  value(): number {
    const partials = this.partials;
    let n = this.count;
    if (n === 0) return 0;
    let hi = partials[--n];
    let lo = 0;
    while (n > 0) {
      const x = hi;
      const y = partials[--n];
      hi = x + y;
      lo = y - (hi - x);
      if (lo !== 0) break;
    }
    // Half-way case: the partials below decide the direction of the rounding.
    if (n > 0 && ((lo < 0 && partials[n - 1] < 0) || (lo > 0 && partials[n - 1] > 0))) {
      const y = lo * 2;
      const x = hi + y;
      if (y === x - hi) hi = x;
    }
    return hi;
  }

  /**
   * The sum as two doubles whose exact sum is this sum to within 2⁻¹⁰⁶ of its
   * size (exactly, unless the partials span more than 106 bits): what a shard
   * stores so that sums over shards stay exact.
   */
  split(): [hi: number, lo: number] {
    const hi = this.value();
    const rest = new ExactSum();
    for (let k = 0; k < this.count; k++) rest.add(this.partials[k]);
    rest.add(-hi);
    return [hi, rest.value()];
  }
}

/** Σ values, exactly rounded. */
export function exactSum(values: Iterable<number>): number {
  const sum = new ExactSum();
  for (const value of values) sum.add(value);
  return sum.value();
}
