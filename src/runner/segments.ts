import { InputError } from '../errors.js';
import type { PlannedRun } from '../job/expand.js';
import { readDataBytes, scanDataWindow } from '../model/index.js';
import { forwardFlag, type SharedWindow } from './forwardOnce.js';
import { Holds } from './holds.js';
import type { ShardRange } from './plan.js';
import type { ForwardTask, SharedModel } from './worker.js';

/**
 * Long windows in bounded memory. A window whose sequence (burn-in and
 * positions) is longer than a segment is computed in segments of
 * `segmentSize` positions: a segment's shared buffers hold the bytes and
 * forward states its shards' traces reach (from Dmax before its first position,
 * or the sequence's start, to the byte after its last), its forward pass starts
 * from the state before them, carried along the window, and the buffers are
 * dropped once its shards are committed. Position t's trace reads only
 * h_{t+B-Dmax} .. h_{t+B} and the bytes x_{t+B-Dmax} .. x_{t+B+1}, and each h
 * is computed from the one before with the same arithmetic, so the results are
 * those of one pass over the whole window, bit for bit.
 *
 * A segment's buffers are reused for a later segment once its shards are
 * committed and the state carried from it is taken: V8 frees a
 * SharedArrayBuffer only when every thread that saw it has collected it, which
 * its memory does not hasten, so buffers left to the collector piled up (about
 * 1 KB per position). A window in flight holds at most a few segments' buffers.
 */

/** Positions per segment by default: 32,768 (16 MiB of forward states at H = 128). */
export const DEFAULT_SEGMENT_SIZE = 32_768;

/**
 * The segment size: SPARSETRACE_SEGMENT_SIZE if set (a positive integer; the
 * tests make it small so that a short window crosses several segments), else
 * DEFAULT_SEGMENT_SIZE.
 */
export function segmentSize(): number {
  const text = process.env.SPARSETRACE_SEGMENT_SIZE;
  if (text === undefined || text === '') return DEFAULT_SEGMENT_SIZE;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) throw new InputError(`SPARSETRACE_SEGMENT_SIZE=${text}: not a positive integer`);
  return value;
}

/** Whether a run's window is computed in segments: its sequence (burn-in, positions) is longer than one. */
export function isSegmented(run: PlannedRun, size: number): boolean {
  return (run.data.burnIn ?? 0) + run.positions > size;
}

/** A segment of a run: the shards whose first position lies in [index·size, (index + 1)·size); `to` is where the last of them ends. */
export interface Segment {
  readonly index: number;
  readonly from: number;
  readonly to: number;
  readonly shards: readonly ShardRange[];
}

/** The run's shards left (ascending) grouped into segments; segments with nothing left are not listed. */
export function segmentsOf(shards: readonly ShardRange[], size: number): Segment[] {
  const segments: Segment[] = [];
  let current: { index: number; from: number; to: number; shards: ShardRange[] } | undefined;
  for (const shard of shards) {
    const index = Math.floor(shard.start / size);
    if (current === undefined || current.index !== index) {
      current = { index, from: shard.start, to: shard.start + shard.count, shards: [] };
      segments.push(current);
    }
    current.shards.push(shard);
    current.to = Math.max(current.to, shard.start + shard.count);
  }
  return segments;
}

/** The bytes of the shared buffers of a piece of `rows` rows (bytes and states). */
export function pieceBytes(rows: number, hidden: number): number {
  return rows * (1 + 4 * hidden);
}

/**
 * The forward pass along one run's window, segment after segment: `window`
 * gives a segment's shared buffers, their forward pass begun on the pool from
 * the state carried to them. Stretches no segment needs (the burn-in far
 * before the first position, the segments a resumed run has committed) are
 * forwarded in pieces of at most `size` + Dmax bytes, keeping only their last state.
 */
export class SegmentWalk {
  /** The sequence index the carried state stands before. */
  private at = 0;
  /** h_{at-1}; undefined: zeros (at = 0). */
  private carried: Float32Array | undefined;
  /** The last piece begun (its origin is `at`), and its forward pass. */
  private pending: { readonly window: SharedWindow; readonly origin: number; readonly rows: number; readonly done: Promise<void> } | undefined;
  private readonly burnIn: number;
  private readonly start: number;
  /** The largest piece allocated (bytes of its shared buffers). */
  largest = 0;
  /** Bytes of all the shared buffers this walk allocated (buffers are reused, so this stays within a few segments). */
  allocated = 0;
  /** Buffers whose segment is done, to reuse. */
  private readonly free: { readonly bytes: SharedArrayBuffer; readonly states: SharedArrayBuffer }[] = [];
  /** What still holds each piece's buffers: its shards and the walk; they are reused when neither does. */
  private readonly holds = new Holds<SharedWindow>();

  constructor(
    private readonly run: PlannedRun,
    private readonly model: SharedModel,
    private readonly forwardOnPool: (task: ForwardTask) => Promise<void>,
    private readonly size: number,
  ) {
    this.burnIn = run.data.burnIn ?? 0;
    this.start = run.data.offset - this.burnIn;
  }

  /** Checks that the window is the one planned (its SHA-256, read in pieces); InputError if it changed. */
  verify(): void {
    const { run, burnIn } = this;
    const scanned = scanDataWindow(run.data.path, run.data.offset, run.data.length, burnIn);
    if (scanned.sha256 !== run.data.sha256) {
      throw new InputError(
        `data ${run.data.path}: the window at offset ${run.data.offset}${burnIn > 0 ? ` (with its ${burnIn} bytes of burn-in)` : ''} changed since run ${run.runId} was planned (sha256 ${scanned.sha256}, expected ${run.data.sha256})`,
      );
    }
  }

  /** The segment's shared window, its forward pass begun; waits for the forward pass of the segment before (its carried state). */
  async window(segment: Segment): Promise<SharedWindow> {
    const origin = Math.max(0, segment.from + this.burnIn - this.run.dmax);
    const end = segment.to + this.burnIn + 1; // the last position's target
    await this.advanceTo(origin);
    const window = this.piece(origin, end);
    this.holds.hold(window, 2); // the walk (until it took the state to carry) and the segment's shards
    const done = this.forwardOnPool({ model: this.model, ...window });
    done.catch(() => undefined); // awaited by the next advanceTo; a failure also fails the segment's shards
    this.pending = { window, origin, rows: end - origin, done };
    return window;
  }

  /** Carries the state to `target` (≥ at). */
  private async advanceTo(target: number): Promise<void> {
    const pending = this.pending;
    if (pending !== undefined) {
      this.pending = undefined;
      await pending.done;
      const reach = Math.min(target, pending.origin + pending.rows);
      if (reach > this.at) {
        this.carried = new Float32Array(pending.window.states, 4 * (reach - 1 - pending.origin) * this.model.hidden, this.model.hidden).slice();
        this.at = reach;
      }
      this.release(pending.window);
    }
    while (this.at < target) {
      const end = Math.min(target, this.at + this.size + this.run.dmax);
      const window = this.piece(this.at, end);
      this.holds.hold(window);
      await this.forwardOnPool({ model: this.model, ...window });
      this.carried = new Float32Array(window.states, 4 * (end - 1 - this.at) * this.model.hidden, this.model.hidden).slice();
      this.at = end;
      this.release(window);
    }
  }

  /** One holder of a piece lets go (its shards are committed, or the walk took its state): the last one gives its buffers back. */
  release(window: SharedWindow): void {
    if (this.holds.release(window)) this.free.push({ bytes: window.bytes, states: window.states });
  }

  /** Shared buffers for sequence indices [from, to), starting from the carried state (whose index is `from`). */
  private piece(from: number, to: number): SharedWindow {
    if (from !== this.at) throw new Error(`SegmentWalk: a piece from ${from} with the state carried to ${this.at}`);
    const hidden = this.model.hidden;
    const rows = to - from;
    const { bytes, states } = this.buffers(rows);
    new Uint8Array(bytes, 0, rows).set(readDataBytes(this.run.data.path, this.start + from, rows));
    let initial: SharedArrayBuffer | undefined;
    if (this.carried !== undefined) {
      initial = new SharedArrayBuffer(4 * hidden);
      new Float32Array(initial).set(this.carried);
    }
    return { bytes, states, ready: forwardFlag(), origin: from, rows, ...(initial === undefined ? {} : { initial }) };
  }

  /** Buffers for `rows` rows: free ones large enough, else new ones (of a segment's rows at least). */
  private buffers(rows: number): { readonly bytes: SharedArrayBuffer; readonly states: SharedArrayBuffer } {
    const hidden = this.model.hidden;
    const index = this.free.findIndex((buffers) => buffers.bytes.byteLength >= rows);
    if (index >= 0) return this.free.splice(index, 1)[0];
    const capacity = Math.max(rows, this.size + this.run.dmax + 1);
    const size = pieceBytes(capacity, hidden);
    this.largest = Math.max(this.largest, size);
    this.allocated += size;
    return { bytes: new SharedArrayBuffer(capacity), states: new SharedArrayBuffer(4 * capacity * hidden) };
  }
}

/** What a job's computing holds in memory, about (bytes): see memoryNeeded. */
export interface MemoryNeed {
  /** Positions per segment of a long window. */
  readonly segmentSize: number;
  /** The largest window or segment buffer (bytes and forward states, shared by every thread). */
  readonly windowBytes: number;
  /** Window and segment buffers alive at once, shared. */
  readonly sharedBytes: number;
  /** Each worker thread: Node's isolate, the forward kernel's copy of a window's states, the trace kernel, a shard's results. */
  readonly perThreadBytes: number;
  /** The main thread: Node, SQLite's cache, the shards in flight waiting to be committed. */
  readonly orchestratorBytes: number;
  /** sharedBytes + threads × perThreadBytes + orchestratorBytes. */
  readonly totalBytes: number;
}

/** Node's own memory, measured: a worker thread about 25 MB, the main thread with better-sqlite3 about 80 MB. */
const THREAD_BASE_BYTES = 25e6;
const MAIN_BASE_BYTES = 80e6;
/** Positions the trace kernel holds states for at once (engine/trace.ts RANGE_CHUNK). */
const TRACE_CHUNK = 512;

/**
 * The memory a job needs, about, from the segment size, the hidden size, Dmax,
 * the shard size and τ: none of it grows with a window's length. A window
 * longer than a segment holds at most a few segments' buffers (segments.ts:
 * the one whose shards are traced, the next being forwarded, the one whose last
 * shards are committed), each `segmentSize + shardSize + Dmax + 1` rows of
 * 1 + 4·H bytes; a shorter one its own rows (burn-in included), and the
 * runner prefetches one window per thread. A thread's forward kernel copies a
 * buffer's states (twice, briefly); its shards hold their results
 * (positions × (12·T + 4·(Dmax + 1) + 40) bytes and the pattern peaks, 4·513·H).
 */
export function memoryNeeded(job: {
  readonly runs: readonly { readonly positions: number; readonly burnIn: number; readonly dmax: number; readonly hidden: number }[];
  readonly taus: number;
  readonly threads: number;
  readonly shardSize: number;
  readonly segmentSize?: number;
}): MemoryNeed {
  const size = job.segmentSize ?? segmentSize();
  let windowBytes = 0;
  let stateBytes = 0;
  let shardBytes = 0;
  let traceBytes = 0;
  for (const run of job.runs) {
    const sequence = run.burnIn + run.positions + 1;
    const rows = run.burnIn + run.positions > size ? size + job.shardSize + run.dmax + 1 : sequence;
    windowBytes = Math.max(windowBytes, pieceBytes(rows, run.hidden));
    stateBytes = Math.max(stateBytes, 4 * rows * run.hidden);
    shardBytes = Math.max(shardBytes, job.shardSize * (12 * job.taus + 4 * (run.dmax + 1) + 40) + 4 * 513 * run.hidden);
    traceBytes = Math.max(traceBytes, 4 * (TRACE_CHUNK + run.dmax + 1) * (run.hidden + 4) + 4 * 513 * run.hidden * 2);
  }
  const sharedBytes = Math.max(3, job.threads + 1) * windowBytes;
  const perThreadBytes = THREAD_BASE_BYTES + 2 * stateBytes + traceBytes + 2 * shardBytes;
  const orchestratorBytes = MAIN_BASE_BYTES + 2 * job.threads * shardBytes;
  return { segmentSize: size, windowBytes, sharedBytes, perThreadBytes, orchestratorBytes, totalBytes: sharedBytes + job.threads * perThreadBytes + orchestratorBytes };
}
