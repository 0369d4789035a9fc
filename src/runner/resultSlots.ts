/**
 * The shared buffers a pool's threads pack their shards into (codec.ts's
 * packShardInto), each reused once the writer has committed the shard it held.
 *
 * Why not a new ArrayBuffer per shard, transferred: its memory is external to
 * V8's heap, and the writer's thread received about 0.9 MB of it per shard at
 * H = 128 (330 MB over a 300-window sweep). V8 answers that much external memory
 * with full collections of the writer's small heap: 25 in that sweep, their
 * pauses and steps 0.4 s of the writer's thread, and V8's helper threads 0.3 s
 * more CPU, on the cores the shards need. Slots reused allocate nothing per shard.
 *
 * A slot is made as long as the largest shard seen so far (with headroom); a
 * shard that does not fit its slot, or came with none, travels in its own
 * ArrayBuffer as before and makes the next slots longer. The shorter ones are
 * dropped as they come back, so the slots made stay few: about the shards in
 * flight.
 */
export class ResultSlots {
  private readonly free: SharedArrayBuffer[] = [];
  /** The length slots are made with: 0 until a shard's size is known. */
  private length = 0;
  /** Slots made so far. */
  made = 0;

  /** A slot for the next shard: a free one, else a new one; none before a shard's size is known. */
  take(): SharedArrayBuffer | undefined {
    const slot = this.free.pop();
    if (slot !== undefined || this.length === 0) return slot;
    this.made++;
    return new SharedArrayBuffer(this.length);
  }

  /** A shard of `bytes` did not fit: slots made from now on hold it. */
  needed(bytes: number): void {
    if (bytes <= this.length) return;
    // An eighth more, in 64 KiB steps: shards a little larger than the first ones fit too.
    this.length = Math.ceil((bytes * 1.125) / SLOT_STEP) * SLOT_STEP;
    this.free.length = 0;
  }

  /** A slot whose shard is committed (or failed): it takes another shard if it is long enough. */
  give(slot: SharedArrayBuffer): void {
    if (slot.byteLength >= this.length) this.free.push(slot);
  }
}

const SLOT_STEP = 64 * 1024;
