import type { BatchData } from './batches.js';
import type { QueueAddress } from './connection.js';
import type { QueueTiming } from './protocol.js';

/**
 * What `serve` and `worker` need of a queue, whatever carries it: BullMQ on
 * Redis does (bullmq.ts, the only file that knows it); another engine is one
 * new file implementing QueueEngine. Results never travel through the queue:
 * they are segment files (segments.ts), so a queue only holds batches to do.
 */
export interface QueueEngine {
  /** The coordinator's side of queue `name`: it adds batches and watches what is outstanding. */
  openQueue(address: QueueAddress, name: string, log: (line: string) => void): BatchQueue;
  /** A worker's side: takes one batch at a time and hands it to `handle`, until closed. */
  consume(address: QueueAddress, name: string, handle: BatchHandler, options: ConsumerOptions): BatchConsumer;
}

/** A batch to add: its id is chosen by the coordinator (a hash of its runs), so adding the same id twice adds it once. */
export interface NewBatch {
  readonly id: string;
  readonly data: BatchData;
}

/** Batches not yet computed: waiting for a worker, and being computed. */
export interface Outstanding {
  readonly waiting: number;
  readonly active: number;
  /** Every batch that a worker is still going to compute (waiting, active, delayed, paused, …). */
  readonly live: number;
}

export interface BatchQueue {
  /** Adds batches, in a few round trips (a few hundred per call at most: one huge request would stall the server). */
  enqueue(batches: readonly NewBatch[]): Promise<void>;
  /** Removes the batches no worker has taken (an earlier coordinator's: this one enqueues what is missing again). */
  dropWaiting(): Promise<void>;
  /** What is outstanding; throws when the queue cannot be reached. */
  outstanding(): Promise<Outstanding>;
  /** Some batches that failed for good, with their reasons as the queue recorded them (untrusted text). */
  failures(limit: number): Promise<{ readonly id: unknown; readonly reason: unknown }[]>;
  close(): Promise<void>;
}

/** A batch taken from the queue: its id and data as the queue holds them, not yet checked (validate.ts). */
export interface TakenBatch {
  readonly id: unknown;
  readonly data: unknown;
  /** Puts the batch back in the queue at once (the worker is stopping) rather than when its lease expires; ends the handler. */
  giveBack(): Promise<never>;
}

/**
 * Computes one batch. Its promise resolving acknowledges the batch; a
 * RefusedBatchError (errors.ts) fails it for good, any other error fails this
 * attempt (the queue tries it again).
 */
export type BatchHandler = (batch: TakenBatch) => Promise<unknown>;

export interface ConsumerOptions {
  readonly timing: QueueTiming;
  readonly log: (line: string) => void;
  /** A batch failed (not given back): its id as the queue holds it, and why. */
  readonly onFailed: (id: unknown, error: Error) => void;
}

export interface BatchConsumer {
  /** Stops taking batches; waits for the batch in hand to end. */
  close(): Promise<void>;
  /** Resolves when the consumer has stopped. */
  readonly closed: Promise<void>;
}
