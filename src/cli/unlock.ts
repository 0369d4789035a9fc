import { hostname } from 'node:os';
import { InputError } from '../errors.js';
import { clearWriterLock } from '../store/index.js';
import { withDatabase } from './database.js';
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
