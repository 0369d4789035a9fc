import { hideBin } from 'yargs/helpers';
import { reportFailure } from './common.js';
import { main } from './program.js';
import { escapedErrorExit } from './stopping.js';

// Whatever escapes a handler still ends with one line and its exit code.
for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
  process.on(event, (error: unknown) => {
    process.exitCode = escapedErrorExit(error);
    process.exit();
  });
}

try {
  await main(hideBin(process.argv));
} catch (error) {
  process.exitCode = reportFailure(error);
}
