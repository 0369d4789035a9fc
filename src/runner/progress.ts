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
  const intervalSeconds = options.intervalSeconds ?? 5;
  const writeLine = options.log ?? ((text: string) => void stream.write(`${text}\n`));
  const started = performance.now();
  let total = 0;
  let done = 0;
  let doneAtStart = 0;
  let totalWork = 0;
  let workDone = 0;
  let workAtStart = 0;
  // The current run's positions and work done; shards of the previous run may still commit after it starts.
  let currentRun = '';
  let runDone = 0;
  let runWorkLeft = 0;
  let lastLine = 0;
  const plan = (positions: number, already: number, work: { readonly total: number; readonly done: number }): void => {
    total = positions;
    done = already;
    doneAtStart = already;
    totalWork = work.total;
    workDone = work.done;
    workAtStart = work.done;
  };
  const startRun = (run: PlannedRun, alreadyInRun: number): void => {
    currentRun = run.runId;
    runDone = alreadyInRun;
    // The positions left of a run are about its last ones (shards are planned in order).
    runWorkLeft = workUnits(alreadyInRun, run.positions - alreadyInRun, run.dmax, run.data.burnIn);
  };
  const countShard = (run: PlannedRun, positions: number, start: number): void => {
    const work = workUnits(start, positions, run.dmax, run.data.burnIn);
    done += positions;
    workDone += work;
    if (run.runId === currentRun) {
      runDone += positions;
      runWorkLeft = Math.max(0, runWorkLeft - work);
    }
  };
  const elapsed = (): number => Math.max(1e-3, (performance.now() - started) / 1000);
  const rate = (): number => (done - doneAtStart) / elapsed();
  /** Time left for `workLeft` units at this session's rate: "unknown" until a shard of this session has committed. */
  const eta = (workLeft = totalWork - workDone): string => (workDone > workAtStart ? formatEta(workLeft / ((workDone - workAtStart) / elapsed())) : formatEta(null));

  if (stream.isTTY) {
    // Loaded here, for a terminal only (it takes about 10 ms): a pipe or a log file gets lines.
    const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof CliProgress;
    // `{left}`, not `{eta}`: cli-progress fills `{eta}` itself, in raw seconds (and "INF"), over the payload's.
    const bars = new cliProgress.MultiBar(
      {
        stream,
        format: '{label} |{bar}| {value}/{total} positions | {rate} pos/s | ETA {left}',
        hideCursor: true,
        clearOnComplete: false,
        barsize: 24,
      },
      cliProgress.Presets.shades_classic,
    );
    let jobBar: CliProgress.SingleBar | undefined;
    let runBar: CliProgress.SingleBar | undefined;
    let drawing = false;
    // Labels share one width, so the bars line up: what the terminal leaves beside the bar and figures (about 80 columns).
    const labelWidth = Math.max(36, Math.min(80, (stream.columns ?? 80) - 80));
    // On any exit while drawing (process.exit after a second signal, an uncaught error) the terminal gets its cursor and line wrap back.
    const restoreOnExit = (): void => {
      if (!drawing) return;
      drawing = false;
      try {
        if (typeof (stream as { fd?: unknown }).fd === 'number') writeSync((stream as unknown as { fd: number }).fd, `\n${TERMINAL_RESTORE}`);
        else stream.write(`\n${TERMINAL_RESTORE}`);
      } catch {
        // The terminal is gone (SIGHUP): nothing to restore.
      }
    };
    const startDrawing = (): void => {
      if (drawing) return;
      drawing = true;
      process.on('exit', restoreOnExit);
    };
    return {
      jobPlanned(positions, already, work) {
        plan(positions, already, work);
        startDrawing();
        jobBar = bars.create(positions, already, { label: `job ${runCount} run${runCount === 1 ? '' : 's'}`.padEnd(labelWidth), rate: '—', left: eta() });
      },
      runStarted(run, index, alreadyInRun) {
        startRun(run, alreadyInRun);
        startDrawing();
        runBar?.stop();
        if (runBar) bars.remove(runBar);
        // The window by its file name (the full path is in the log lines), cut from the left if it still does not fit.
        const prefix = `run ${index + 1}/${runCount} Dmax ${run.dmax} `;
        const window = `${basename(run.data.path)} @${run.data.offset}+${run.data.length}`;
        const label = `${prefix}${tail(window, Math.max(12, labelWidth - prefix.length))}`.padEnd(labelWidth);
        runBar = bars.create(run.positions, alreadyInRun, { label, rate: '—', left: eta(runWorkLeft) });
      },
      shardCommitted(run, positions, start) {
        countShard(run, positions, start);
        const shown = rate().toFixed(0);
        jobBar?.update(done, { rate: shown, left: eta() });
        if (run.runId === currentRun) runBar?.update(runDone, { rate: shown, left: eta(runWorkLeft) });
      },
      log(line: string) {
        bars.log(`${line}\n`);
      },
      runFinished() {},
      stop() {
        if (!drawing) return;
        // Lines logged since the last redraw are written first, then the bars' last state.
        bars.update();
        bars.stop();
        drawing = false;
        process.off('exit', restoreOnExit);
      },
    };
  }

  const line = (text: string): void => {
    writeLine(text);
    lastLine = performance.now();
  };
  return {
    jobPlanned(positions, already, work) {
      plan(positions, already, work);
      line(`job: ${runCount} run${runCount === 1 ? '' : 's'}, ${positions} positions, ${already} already computed`);
    },
    runStarted(run, index, alreadyInRun) {
      startRun(run, alreadyInRun);
      line(`run ${index + 1}/${runCount}: ${describeRun(run)}${alreadyInRun > 0 ? `, resuming at ${alreadyInRun}/${run.positions}` : ''}`);
    },
    shardCommitted(run, positions, start) {
      countShard(run, positions, start);
      if (run.runId === currentRun && performance.now() - lastLine >= intervalSeconds * 1000) {
        line(`  ${runDone}/${run.positions} positions of this run; job ${done}/${total}, ${rate().toFixed(0)} pos/s, ETA ${eta()}`);
      }
    },
    runFinished(run, index) {
      line(`run ${index + 1}/${runCount} done: ${run.runId}; job ${done}/${total} positions, ETA ${eta()}`);
    },
    stop() {},
  };
}
