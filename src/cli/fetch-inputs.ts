import { fetchInputs } from '../inputs/fetch.js';
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
