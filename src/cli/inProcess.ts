import type { EngineCost } from '../plan/calibrate.js';

/**
 * What a caller of runCommandLine (program.ts) may give the commands it runs in
 * its own process, besides their command line: settings no command line, file
 * or environment variable can set. The tests use them to skip work that only
 * tests of that work need.
 */
export interface InProcessSettings {
  /** CPU seconds `plan` spends measuring the engine (planJob's calibrationSeconds; by default 1). */
  readonly planCalibrationSeconds?: number;
  /** The engine's costs `plan` uses instead of measuring them (planJob's engineCost), so its arithmetic can be checked exactly. */
  readonly planEngineCost?: EngineCost;
}

let current: InProcessSettings = {};

/** The settings of the command line running in this process ({} for the CLI's own). */
export function inProcessSettings(): InProcessSettings {
  return current;
}

/** Set by runCommandLine around one command line; {} afterwards. */
export function setInProcessSettings(settings: InProcessSettings): void {
  current = settings;
}
