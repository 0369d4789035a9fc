import { DEFAULT_INPUTS_DIR, fetchInputs } from '../inputs/fetch.js';
import { defineCommand } from './common.js';
import { log } from './output.js';

export interface FetchInputsArgs {
  readonly from?: string;
  readonly to: string;
}

/** `sparsetrace fetch-inputs`: the pinned model and data, verified. */
export async function fetchInputsCommand(args: FetchInputsArgs): Promise<number> {
  await fetchInputs({ from: args.from, destination: args.to, log });
  return 0;
}

export const fetchInputsCli = defineCommand({
  command: 'fetch-inputs',
  describe: `get the model and data into ./${DEFAULT_INPUTS_DIR}, verified`,
  examples: [
    ['$0 fetch-inputs', 'download the model and data, verified by SHA-256'],
    ['$0 fetch-inputs --from ../shared/inputs', 'copy them from a folder instead'],
  ],
  builder: (args) =>
    args
      .option('from', { describe: 'copy from this folder instead of downloading (e.g. ../shared/inputs)', type: 'string', requiresArg: true })
      .option('to', { describe: 'destination folder', type: 'string', requiresArg: true, default: DEFAULT_INPUTS_DIR }),
  handler: (argv) => fetchInputsCommand(argv),
});
