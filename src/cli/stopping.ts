import { classify, SIGNAL_EXIT } from '../errors.js';
import { reportFailure } from './common.js';
import { log } from './output.js';

/** The signals that stop a command: Ctrl-C, `kill`, and a closed terminal or ssh session (SIGHUP). */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** How long a stop may take before the process quits anyway: Redis may be down, and a graceful close then waits forever. */
export const STOP_DEADLINE_MS = 6000;

/** The first stop signal this process received, whichever command listened. */
let received: NodeJS.Signals | undefined;

/**
 * Reports an error that escaped every handler (an uncaught exception or an
 * unhandled rejection, src/cli/main.ts) and returns the process's exit code.
 * While a stop signal is being handled, a failure of the environment (Redis
 * going away under a worker that is closing: BullMQ's connection may then reject
 * with nobody listening) ends the process as interrupted, 128 + the signal's
 * number: the user asked it to stop, and committed work is kept. A bug still exits 1.
 */
export function escapedErrorExit(error: unknown): number {
  const code = reportFailure(error);
  const interrupted = received !== undefined && classify(error) !== undefined ? SIGNAL_EXIT[received] : undefined;
  return interrupted ?? code;
}

export interface Stopping {
  /** The first stop signal received, if any. */
  readonly signal: () => NodeJS.Signals | undefined;
  /** The exit code for the signal received (128 + its number, src/errors.ts), or `otherwise` when none was. */
  readonly exitCode: (otherwise: number) => number;
  /** Stops listening (the command ended by itself). */
  readonly dispose: () => void;
}

export interface StopHandlers {
  /** Begins a graceful stop on the first signal. Without it, the first signal quits at once. */
  readonly stop?: () => void;
  /** What the first signal says, before `stop`. */
  readonly message?: (signal: NodeJS.Signals) => string;
  /** Cleans up what is local, just before the process exits: it must not wait (on the network, on anything). */
  readonly quit: (why: string) => void;
  /** How long a graceful stop may take before quitting; null: as long as it takes (a run finishing its shards in flight). Default STOP_DEADLINE_MS. */
  readonly deadlineMs?: number | null;
}

/**
 * How every command stops on SIGINT, SIGTERM or SIGHUP (run, resume, serve,
 * worker, export): the first signal says so (`message`) and calls `stop`, which
 * begins a graceful stop; if the command has not ended within the deadline, or
 * on a second signal, `quit` cleans up what is local and the process exits at
 * once, with 128 + the first signal's number. Without `stop`, the first signal
 * quits at once.
 */
export function stopOnSignals(handlers: StopHandlers): Stopping {
  let first: NodeJS.Signals | undefined;
  let deadline: NodeJS.Timeout | undefined;
  const exitCode = (otherwise: number): number => SIGNAL_EXIT[first ?? ''] ?? otherwise;
  const quitNow = (why: string): never => {
    try {
      handlers.quit(why);
    } finally {
      process.exit(exitCode(1));
    }
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (first !== undefined) quitNow(`${signal} again: quitting now`);
    first = signal;
    received ??= signal;
    if (handlers.stop === undefined) return quitNow(signal);
    if (handlers.message !== undefined) log(handlers.message(signal));
    const deadlineMs = handlers.deadlineMs === undefined ? STOP_DEADLINE_MS : handlers.deadlineMs;
    if (deadlineMs !== null) deadline = setTimeout(() => quitNow(`still stopping after ${deadlineMs / 1000} s (is Redis reachable?): quitting now`), deadlineMs);
    handlers.stop();
  };
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  return {
    signal: () => first,
    exitCode,
    dispose: () => {
      clearTimeout(deadline);
      for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
    },
  };
}
