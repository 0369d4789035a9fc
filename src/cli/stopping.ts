import { SIGNAL_EXIT } from '../errors.js';
import { log } from './output.js';

/** The signals that stop serve and worker: Ctrl-C, `kill`, and a closed terminal or ssh session (SIGHUP). */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** How long a stop may take before the process quits anyway: Redis may be down, and a graceful close then waits forever. */
export const STOP_DEADLINE_MS = 6000;

export interface Stopping {
  /** The first stop signal received, if any. */
  readonly signal: () => NodeJS.Signals | undefined;
  /** Stops listening (the command ended by itself). */
  readonly dispose: () => void;
}

/**
 * Stops a long-running command (serve, worker) on SIGINT, SIGTERM or SIGHUP:
 * the first signal says so (`message`) and calls `stop`, which begins a
 * graceful stop; if the command has not ended within STOP_DEADLINE_MS, or on a
 * second signal, `quit` (which must not wait on the network) cleans up what is
 * local and the process exits at once, with 128 + the signal's number.
 */
export function stopOnSignals(handlers: { readonly message: (signal: NodeJS.Signals) => string; readonly stop: () => void; readonly quit: (why: string) => void }): Stopping {
  let first: NodeJS.Signals | undefined;
  let deadline: NodeJS.Timeout | undefined;
  const quitNow = (why: string): never => {
    try {
      handlers.quit(why);
    } finally {
      process.exit(SIGNAL_EXIT[first ?? ''] ?? 1);
    }
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (first !== undefined) quitNow(`${signal} again: quitting now`);
    first = signal;
    log(handlers.message(signal));
    deadline = setTimeout(() => quitNow(`still stopping after ${STOP_DEADLINE_MS / 1000} s (is Redis reachable?): quitting now`), STOP_DEADLINE_MS);
    handlers.stop();
  };
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  return {
    signal: () => first,
    dispose: () => {
      clearTimeout(deadline);
      for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
    },
  };
}
