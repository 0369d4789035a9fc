import { hostname } from 'node:os';
import { InputError } from '../errors.js';
import { clearWriterLock } from '../store/index.js';
import { dbOption, defineCommand, withDatabase } from './common.js';
import { log } from './output.js';

export interface UnlockArgs {
  readonly db?: string;
  /** The pid of a lock taken on another host: confirms that this is the lock to remove. */
  readonly pid?: number;
}

/**
 * `sparsetrace unlock`: removes a writer lock its holder left behind. A live
 * writer on this host is refused (stop it instead); a lock from another host,
 * which this one cannot check, is removed once `--pid` confirms which it is.
 */
export function unlockCommand(args: UnlockArgs): Promise<number> {
  return withDatabase(
    args.db,
    (db, dbPath) => {
      const outcome = clearWriterLock(db, dbPath, args.pid);
      if (outcome.kind === 'none') {
        log(`${dbPath}: no writer lock; nothing to do`);
        return 0;
      }
      const { holder } = outcome;
      const who = `process ${holder.pid} on ${holder.host} (${holder.command}, started ${holder.started_at})`;
      if (outcome.kind === 'confirm') {
        throw new InputError(
          `${dbPath}: the writer lock is held by ${who}${outcome.lastCommit ? `, last shard committed ${outcome.lastCommit}` : ''}; ` +
            `${hostname()} cannot tell whether it still runs: make sure it does not, then confirm with \`sparsetrace unlock --pid ${holder.pid} --db ${dbPath}\``,
        );
      }
      log(`${dbPath}: removed the writer lock of ${who}`);
      return 0;
    },
    { mustExist: true },
  );
}

export const unlockCli = defineCommand({
  command: 'unlock',
  describe: 'remove a writer lock left by a process that no longer runs',
  examples: [
    ['$0 unlock --db /shared/sweep.sqlite', 'show who holds the lock and remove it if its process is gone'],
    ['$0 unlock --pid 4242 --db /shared/sweep.sqlite', 'remove the lock a process on another host left, confirmed by its pid'],
  ],
  builder: (args) =>
    args
      .option('db', dbOption)
      .option('pid', { describe: 'for a lock taken on another host: its pid, confirming it is the one to remove', type: 'number', requiresArg: true })
      .check((argv) => {
        if (argv.pid !== undefined && !(Number.isSafeInteger(argv.pid) && argv.pid > 0)) throw new Error(`--pid: must be a process id (an integer > 0), got ${argv.pid}`);
        return true;
      })
      .epilogue(
        'A lock left by a dead process on this host is taken over by the next writer anyway; unlock ' +
          'is for a lock taken on another host (a shared disk), which this host cannot check.',
      ),
  handler: (argv) => unlockCommand(argv),
});
