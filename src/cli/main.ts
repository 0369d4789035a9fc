import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { TOOL_VERSION } from '../version.js';
import { EXIT_BAD_INPUT, exitWith } from './common.js';
import { explainCli } from './explain.js';
import { exportCli } from './export.js';
import { fetchInputsCli } from './fetch-inputs.js';
import { migrateCli } from './migrate.js';
import { log } from './output.js';
import { planCli } from './plan.js';
import { reportCli } from './report.js';
import { resumeCli } from './resume.js';
import { runCli } from './run.js';
import { runsCli } from './runs.js';
import { serveCli } from './serve.js';
import { sqlCli } from './sql.js';
import { statusCli } from './status.js';
import { workerCli } from './worker.js';

export async function main(argv: string[]): Promise<void> {
  await yargs(argv)
    .scriptName('sparsetrace')
    .usage('$0 <command> [options]\n\nQ1 sparsity: for every prediction of a small recurrent network, how many weights take part in its explanation.')
    .command(runCli)
    .command(planCli)
    .command(resumeCli)
    .command(statusCli)
    .command(reportCli)
    .command(explainCli)
    .command(exportCli)
    .command(sqlCli)
    .command(runsCli)
    .command(migrateCli)
    .command(serveCli(exitWith))
    .command(workerCli(exitWith))
    .command(fetchInputsCli)
    .demandCommand(1, 'name a command (see --help)')
    .strict()
    .version(TOOL_VERSION)
    .help()
    .alias('h', 'help')
    .wrap(Math.min(100, process.stdout.columns ?? 100))
    .fail((message, error) => {
      // Handlers catch their own errors (exitWith), so what lands here is a usage error.
      log(`sparsetrace: ${message ?? error?.message}\n(see sparsetrace --help)`);
      process.exit(EXIT_BAD_INPUT);
    })
    .parseAsync();
}

await main(hideBin(process.argv));
