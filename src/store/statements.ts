import type { Db } from './db.js';

/**
 * Statements prepared once per connection and reused (better-sqlite3
 * statements are reusable): `perConnection(prepare)` is the function that gives
 * a connection's set, prepared on its first use.
 */
export function perConnection<T>(prepare: (db: Db) => T): (db: Db) => T {
  const prepared = new WeakMap<Db, T>();
  return (db) => {
    let statements = prepared.get(db);
    if (statements === undefined) {
      statements = prepare(db);
      prepared.set(db, statements);
    }
    return statements;
  };
}
