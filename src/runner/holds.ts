/**
 * How many holders each shared window has (its shards in flight, its forward
 * pass, a segment walk): the last release() says so, and its buffers can then be
 * reused by another window (windows.ts, segments.ts).
 */
export class Holds<T> {
  private readonly counts = new Map<T, number>();

  /** `count` more holders of `item`. */
  hold(item: T, count = 1): void {
    this.counts.set(item, (this.counts.get(item) ?? 0) + count);
  }

  /** One holder lets go: true when it was the last (or `item` had none). */
  release(item: T): boolean {
    const left = (this.counts.get(item) ?? 1) - 1;
    if (left > 0) {
      this.counts.set(item, left);
      return false;
    }
    this.counts.delete(item);
    return true;
  }

  held(item: T): boolean {
    return this.counts.has(item);
  }
}
