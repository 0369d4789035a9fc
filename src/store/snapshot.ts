import type { Db } from './db.js';

/**
 * Runs `body` in one read transaction, so that everything it reads comes from
 * one snapshot of the database: a report taken while a run commits shards sees
 * those shards in all of its figures or in none. (In WAL mode a reader's
 * snapshot is fixed at its first read; without a transaction every statement
 * takes a new one.)
 */
export async function inSnapshot<T>(db: Db, body: () => T | Promise<T>): Promise<T> {
  db.exec('BEGIN');
  try {
    return await body();
  } finally {
    if (db.inTransaction) db.exec('COMMIT');
  }
}
