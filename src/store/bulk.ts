import type { Statement } from 'better-sqlite3';
import type { Db } from './db.js';

/**
 * Inserts rows of one table many at a time: `INSERT … VALUES (…), (…), …` with up
 * to `batch` rows per statement, so a shard of thousands of rows costs a few
 * dozen statement runs instead of one bind and one result object per row.
 * Statements are prepared once per row count (a full batch, a power of two) and
 * reused. Call flush() before the transaction ends.
 */
export class BulkInsert {
  /** A full batch's values, written in place (an array grown by push and cut back to 0 per batch cost the writer's thread a tenth of its inserting time); `filled` of them are rows not inserted yet. */
  private readonly values: (number | string | Buffer | null)[];
  private filled = 0;
  private readonly statements = new Map<number, Statement>();

  constructor(
    private readonly db: Db,
    private readonly table: string,
    private readonly columns: readonly string[],
    private readonly batch = 64,
    /** After the VALUES: e.g. an upsert's ON CONFLICT clause. */
    private readonly suffix = '',
  ) {
    this.values = new Array(columns.length * batch).fill(null);
  }

  add(...row: (number | string | Buffer | null)[]): void {
    const { values } = this;
    let at = this.filled;
    for (let k = 0; k < row.length; k++) values[at++] = row[k];
    this.filled = at;
    if (at === values.length) this.flush();
  }

  flush(): void {
    const { filled, values } = this;
    if (filled === 0) return;
    try {
      if (filled % this.columns.length !== 0) throw new RangeError(`${this.table}: ${filled} values are not rows of ${this.columns.length}`);
      if (filled === values.length) this.statement(this.batch).run(values);
      else {
        // A partial batch in statements of powers of two rows, in order: a connection prepares at most log2(batch) of them, not one per row count (a statement of 64 rows takes longer to prepare than to run).
        const width = this.columns.length;
        for (let at = 0, rows = highestPowerOfTwo(filled / width); at < filled; rows >>= 1) {
          if (at + rows * width > filled) continue;
          this.statement(rows).run(values.slice(at, at + rows * width));
          at += rows * width;
        }
      }
    } finally {
      this.discard();
    }
  }

  /** Forgets the rows not inserted yet (their transaction failed: they must not go into the next one). */
  discard(): void {
    // Nothing held: a row's Buffer may be a view of a whole shard's results.
    this.values.fill(null, 0, this.filled);
    this.filled = 0;
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

/** The largest power of two not above `n` (n ≥ 1). */
function highestPowerOfTwo(n: number): number {
  return 2 ** Math.floor(Math.log2(n));
}
