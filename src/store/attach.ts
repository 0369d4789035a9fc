import { InputError } from '../errors.js';
import type { Db } from './db.js';

/**
 * Attaches another database file under `schema` to a read-only connection: a
 * connection opened read-only opens its attached files read-only too, so the
 * protections of a read-only `sql` hold for them. `schema` must be a plain
 * identifier (checked by the caller); it is quoted here all the same.
 */
export function attachReadOnly(db: Db, schema: string, path: string): void {
  if (!db.readonly) throw new Error('attachReadOnly: the connection must be read-only');
  try {
    db.prepare(`ATTACH DATABASE ? AS "${schema.replace(/"/g, '""')}"`).run(path);
  } catch (error) {
    throw new InputError(`--attach ${schema}=${path}: cannot attach: ${(error as Error).message}`);
  }
}
