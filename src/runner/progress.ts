import { createRequire } from 'node:module';
import type * as CliProgress from 'cli-progress';
import type { PlannedRun } from '../job/expand.js';
import { formatDuration } from './duration.js';
import type { RunEvents } from './execute.js';

function describeRun(run: PlannedRun): string {
  return `run ${run.runId} (${run.data.path} @${run.data.offset}+${run.data.length}, Dmax ${run.dmax})`;
}

/**
 * Progress on stderr: on a terminal, a cli-progress bar for the whole job and one
 * for the current run (positions, rate, ETA); otherwise a line per run and at
 * most one line every `intervalSeconds` while a run computes.
 */
export function progressReporter(
  stream: NodeJS.WriteStream,
  runCount: number,
  options: { readonly intervalSeconds?: number; readonly log?: (line: string) => void } = {},
): RunEvents & { stop(): void; log?: (line: string) => void } {
  const intervalSeconds = options.intervalSeconds ?? 5;
  const writeLine = options.log ?? ((text: string) => void stream.write(`${text}\n`));
  const started = performance.now();
  let total = 0;
  let done = 0;
  let doneAtStart = 0;
  // Positions done in the current run; shards of the previous run may still commit after it starts.
  let currentRun = '';
  let runDone = 0;
  let lastLine = 0;
  const startRun = (run: PlannedRun, alreadyInRun: number): void => {
    currentRun = run.runId;
    runDone = alreadyInRun;
  };
  const countShard = (run: PlannedRun, positions: number): void => {
    done += positions;
    if (run.runId === currentRun) runDone += positions;
  };
  const rate = (): number => (done - doneAtStart) / Math.max(1e-3, (performance.now() - started) / 1000);
  /** Time left for `left` positions: "—" until a shard of this session has committed. */
  const eta = (left = total - done): string => (done > doneAtStart ? formatDuration(left / rate()) : '—');

  if (stream.isTTY) {
    // Loaded here, for a terminal only (it takes about 10 ms): a pipe or a log file gets lines.
    const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof CliProgress;
    const bars = new cliProgress.MultiBar(
      {
        stream,
        format: '{label} |{bar}| {value}/{total} positions | {rate} pos/s | ETA {eta}',
        hideCursor: true,
        clearOnComplete: false,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    let jobBar: CliProgress.SingleBar | undefined;
    let runBar: CliProgress.SingleBar | undefined;
    let currentPositions = 0;
    return {
      jobPlanned(positions, already) {
        total = positions;
        done = already;
        doneAtStart = already;
        jobBar = bars.create(positions, already, { label: `job ${runCount} run${runCount === 1 ? '' : 's'}`.padEnd(16), rate: '—', eta: '—' });
      },
      runStarted(run, index, alreadyInRun) {
        startRun(run, alreadyInRun);
        runBar?.stop();
        if (runBar) bars.remove(runBar);
        runBar = bars.create(run.positions, alreadyInRun, { label: `run ${index + 1}/${runCount}`.padEnd(16), rate: '—', eta: '—' });
        currentPositions = run.positions;
      },
      shardCommitted(run, positions) {
        countShard(run, positions);
        const shown = rate().toFixed(0);
        jobBar?.update(done, { rate: shown, eta: eta() });
        runBar?.update(runDone, { rate: shown, eta: eta(currentPositions - runDone) });
      },
      /** A message above the bars, which would otherwise overwrite it. */
      log(line: string) {
        bars.log(`${line}\n`);
      },
      runFinished() {},
      stop() {
        bars.stop();
      },
    };
  }

  const line = (text: string): void => {
    writeLine(text);
    lastLine = performance.now();
  };
  return {
    jobPlanned(positions, already) {
      total = positions;
      done = already;
      doneAtStart = already;
      line(`job: ${runCount} run${runCount === 1 ? '' : 's'}, ${positions} positions, ${already} already computed`);
    },
    runStarted(run, index, alreadyInRun) {
      startRun(run, alreadyInRun);
      line(`run ${index + 1}/${runCount}: ${describeRun(run)}${alreadyInRun > 0 ? `, resuming at ${alreadyInRun}/${run.positions}` : ''}`);
    },
    shardCommitted(run, positions) {
      countShard(run, positions);
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
