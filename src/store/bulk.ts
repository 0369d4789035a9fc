import type { Statement } from 'better-sqlite3';
import type { Db } from './db.js';

/**
 * Inserts rows of one table many at a time: `INSERT … VALUES (…), (…), …` with up
 * to `batch` rows per statement, so a shard of thousands of rows costs a few
 * dozen statement runs instead of one bind and one result object per row.
 * Statements are prepared once per row count and reused. Call flush() before
 * the transaction ends.
 */
export class BulkInsert {
  private readonly values: (number | string | Buffer | null)[] = [];
  private readonly statements = new Map<number, Statement>();

  constructor(
    private readonly db: Db,
    private readonly table: string,
    private readonly columns: readonly string[],
    private readonly batch = 64,
    /** After the VALUES: e.g. an upsert's ON CONFLICT clause. */
    private readonly suffix = '',
  ) {}

  add(...row: (number | string | Buffer | null)[]): void {
    for (const value of row) this.values.push(value);
    if (this.values.length === this.columns.length * this.batch) this.flush();
  }

  flush(): void {
    const rows = this.values.length / this.columns.length;
    if (rows === 0) return;
    try {
      this.statement(rows).run(this.values);
    } finally {
      this.values.length = 0;
    }
  }

  /** Forgets the rows not inserted yet (their transaction failed: they must not go into the next one). */
  discard(): void {
    this.values.length = 0;
  }

  private statement(rows: number): Statement {
    let statement = this.statements.get(rows);
    if (statement === undefined) {
      const tuple = `(${this.columns.map(() => '?').join(', ')})`;
      statement = this.db.prepare(`INSERT INTO ${this.table} (${this.columns.join(', ')}) VALUES ${Array(rows).fill(tuple).join(', ')} ${this.suffix}`);
      this.statements.set(rows, statement);
    }
    return statement;
  }
}
