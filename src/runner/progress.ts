import { writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename } from 'node:path';
import type * as CliProgress from 'cli-progress';
import type { PlannedRun } from '../job/expand.js';
import { formatEta } from '../duration.js';
import type { RunEvents } from './execute.js';
import { workUnits } from './work.js';

/** What cli-progress turns off while bars are drawn (cursor hidden, `?25l`; line wrap off, `?7l`) turned back on. */
export const TERMINAL_RESTORE = '\x1b[?25h\x1b[?7h';

function describeRun(run: PlannedRun): string {
  return `run ${run.runId} (${windowOf(run)}, Dmax ${run.dmax})`;
}

function windowOf(run: PlannedRun): string {
  const burnIn = run.data.burnIn ?? 0;
  return `${run.data.path} @${run.data.offset}+${run.data.length}${burnIn > 0 ? ` after a burn-in of ${burnIn}` : ''}`;
}

/** The last `width` characters of a path, so a bar label stays on one line and keeps the file name. */
function tail(text: string, width: number): string {
  return text.length <= width ? text : `…${text.slice(text.length - width + 1)}`;
}

export interface ProgressReporter extends RunEvents {
  /** Stops drawing; the terminal is as before. Idempotent. */
  stop(): void;
  /** A message above the bars (terminal only), which would otherwise overwrite it. */
  log?: (line: string) => void;
}

/**
 * Progress on stderr: on a terminal, a cli-progress bar for the whole job and one
 * for the current run (its window, Dmax, run i/N, positions, rate, ETA); otherwise
 * a line per run and at most one line every `intervalSeconds` while a run computes.
 * ETAs count work units (positions × depth, see work.ts), measured over this session.
 * On a terminal, the cursor and line wrap are restored whenever the process exits
 * (process.exit on a second Ctrl-C included), not only on stop().
 */
export function progressReporter(
  stream: NodeJS.WriteStream,
  runCount: number,
  options: { readonly intervalSeconds?: number; readonly log?: (line: string) => void } = {},
): ProgressReporter {
  const counts = new ProgressCounts();
  if (stream.isTTY) return barsReporter(stream, runCount, counts);
  const writeLine = options.log ?? ((text: string) => void stream.write(`${text}\n`));
  return linesReporter(runCount, counts, options.intervalSeconds ?? 5, writeLine);
}

/** The job's and the current run's positions and work done, and the rate and ETAs they give: what both faces show. */
class ProgressCounts {
  private readonly started = performance.now();
  total = 0;
  done = 0;
  private doneAtStart = 0;
  private totalWork = 0;
  private workDone = 0;
  private workAtStart = 0;
  // The current run's positions and work done; shards of the previous run may still commit after it starts.
  private currentRun = '';
  runDone = 0;
  runWorkLeft = 0;

  plan(positions: number, already: number, work: { readonly total: number; readonly done: number }): void {
    this.total = positions;
    this.done = already;
    this.doneAtStart = already;
    this.totalWork = work.total;
    this.workDone = work.done;
    this.workAtStart = work.done;
  }

  startRun(run: PlannedRun, alreadyInRun: number): void {
    this.currentRun = run.runId;
    this.runDone = alreadyInRun;
    // The positions left of a run are about its last ones (shards are planned in order).
    this.runWorkLeft = workUnits(alreadyInRun, run.positions - alreadyInRun, run.dmax, run.data.burnIn);
  }

  countShard(run: PlannedRun, positions: number, start: number): void {
    const work = workUnits(start, positions, run.dmax, run.data.burnIn);
    this.done += positions;
    this.workDone += work;
    if (this.isCurrent(run)) {
      this.runDone += positions;
      this.runWorkLeft = Math.max(0, this.runWorkLeft - work);
    }
  }

  isCurrent(run: PlannedRun): boolean {
    return run.runId === this.currentRun;
  }

  rate(): number {
    return (this.done - this.doneAtStart) / this.elapsed();
  }

  /** Time left for `workLeft` units at this session's rate: "unknown" until a shard of this session has committed. */
  eta(workLeft = this.totalWork - this.workDone): string {
    return this.workDone > this.workAtStart ? formatEta(workLeft / ((this.workDone - this.workAtStart) / this.elapsed())) : formatEta(null);
  }

  private elapsed(): number {
    return Math.max(1e-3, (performance.now() - this.started) / 1000);
  }
}

/** A pipe or a log file: a line per run, and at most one line every `intervalSeconds` while a run computes. */
function linesReporter(runCount: number, counts: ProgressCounts, intervalSeconds: number, writeLine: (line: string) => void): ProgressReporter {
  let lastLine = 0;
  const line = (text: string): void => {
    writeLine(text);
    lastLine = performance.now();
  };
  return {
    jobPlanned(positions, already, work) {
      counts.plan(positions, already, work);
      line(`job: ${runCount} run${runCount === 1 ? '' : 's'}, ${positions} positions, ${already} already computed`);
    },
    runStarted(run, index, alreadyInRun) {
      counts.startRun(run, alreadyInRun);
      line(`run ${index + 1}/${runCount}: ${describeRun(run)}${alreadyInRun > 0 ? `, resuming at ${alreadyInRun}/${run.positions}` : ''}`);
    },
    shardCommitted(run, positions, start) {
      counts.countShard(run, positions, start);
      if (counts.isCurrent(run) && performance.now() - lastLine >= intervalSeconds * 1000) {
        line(`  ${counts.runDone}/${run.positions} positions of this run; job ${counts.done}/${counts.total}, ${counts.rate().toFixed(0)} pos/s, ETA ${counts.eta()}`);
      }
    },
    runFinished(run, index) {
      line(`run ${index + 1}/${runCount} done: ${run.runId}; job ${counts.done}/${counts.total} positions, ETA ${counts.eta()}`);
    },
    stop() {},
  };
}

/** A terminal: a bar for the job and one for the current run. */
function barsReporter(stream: NodeJS.WriteStream, runCount: number, counts: ProgressCounts): ProgressReporter {
  const bars = multiBar(stream);
  const terminal = new TerminalRestore(stream);
  let jobBar: CliProgress.SingleBar | undefined;
  let runBar: CliProgress.SingleBar | undefined;
  // Labels share one width, so the bars line up: what the terminal leaves beside the bar and figures (about 80 columns).
  const labelWidth = Math.max(36, Math.min(80, (stream.columns ?? 80) - 80));
  return {
    jobPlanned(positions, already, work) {
      counts.plan(positions, already, work);
      terminal.startDrawing();
      jobBar = bars.create(positions, already, { label: `job ${runCount} run${runCount === 1 ? '' : 's'}`.padEnd(labelWidth), rate: '—', left: counts.eta() });
    },
    runStarted(run, index, alreadyInRun) {
      counts.startRun(run, alreadyInRun);
      terminal.startDrawing();
      runBar?.stop();
      if (runBar) bars.remove(runBar);
      runBar = bars.create(run.positions, alreadyInRun, { label: runLabel(run, index, runCount, labelWidth), rate: '—', left: counts.eta(counts.runWorkLeft) });
    },
    shardCommitted(run, positions, start) {
      counts.countShard(run, positions, start);
      const shown = counts.rate().toFixed(0);
      jobBar?.update(counts.done, { rate: shown, left: counts.eta() });
      if (counts.isCurrent(run)) runBar?.update(counts.runDone, { rate: shown, left: counts.eta(counts.runWorkLeft) });
    },
    log(line: string) {
      bars.log(`${line}\n`);
    },
    runFinished() {},
    stop() {
      if (!terminal.drawing) return;
      // Lines logged since the last redraw are written first, then the bars' last state.
      bars.update();
      bars.stop();
      terminal.stoppedDrawing();
    },
  };
}

/** cli-progress's bars on `stream`. */
function multiBar(stream: NodeJS.WriteStream): CliProgress.MultiBar {
  // Loaded here, for a terminal only (it takes about 10 ms): a pipe or a log file gets lines.
  const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof CliProgress;
  // `{left}`, not `{eta}`: cli-progress fills `{eta}` itself, in raw seconds (and "INF"), over the payload's.
  return new cliProgress.MultiBar(
    {
      stream,
      format: '{label} |{bar}| {value}/{total} positions | {rate} pos/s | ETA {left}',
      hideCursor: true,
      clearOnComplete: false,
      barsize: 24,
    },
    cliProgress.Presets.shades_classic,
  );
}

/** A run's bar label: the window by its file name (the full path is in the log lines), cut from the left if it still does not fit. */
function runLabel(run: PlannedRun, index: number, runCount: number, labelWidth: number): string {
  const prefix = `run ${index + 1}/${runCount} Dmax ${run.dmax} `;
  const window = `${basename(run.data.path)} @${run.data.offset}+${run.data.length}`;
  return `${prefix}${tail(window, Math.max(12, labelWidth - prefix.length))}`.padEnd(labelWidth);
}

/** While bars are drawn: on any exit (process.exit after a second signal, an uncaught error) the terminal gets its cursor and line wrap back. */
class TerminalRestore {
  drawing = false;
  constructor(private readonly stream: NodeJS.WriteStream) {}

  startDrawing(): void {
    if (this.drawing) return;
    this.drawing = true;
    process.on('exit', this.restoreOnExit);
  }

  /** stop() drew the bars' last state: nothing left to restore. */
  stoppedDrawing(): void {
    this.drawing = false;
    process.off('exit', this.restoreOnExit);
  }

  private readonly restoreOnExit = (): void => {
    if (!this.drawing) return;
    this.drawing = false;
    const stream = this.stream;
    try {
      if (typeof (stream as { fd?: unknown }).fd === 'number') writeSync((stream as unknown as { fd: number }).fd, `\n${TERMINAL_RESTORE}`);
      else stream.write(`\n${TERMINAL_RESTORE}`);
    } catch {
      // The terminal is gone (SIGHUP): nothing to restore.
    }
  };
}
