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

/**
 * Values made once per connection and key (statements prepared per SQL text, per
 * source and key set…): `keyed(db, key, make)` gives the connection's value for
 * `key`, made by `make()` on first use.
 */
export function perConnectionAndKey<K, T>(): (db: Db, key: K, make: () => T) => T {
  const byConnection = new WeakMap<Db, Map<K, T>>();
  return (db, key, make) => {
    let byKey = byConnection.get(db);
    if (byKey === undefined) {
      byKey = new Map();
      byConnection.set(db, byKey);
    }
    let value = byKey.get(key);
    if (value === undefined) {
      value = make();
      byKey.set(key, value);
    }
    return value;
  };
}
