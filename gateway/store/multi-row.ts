import type Database from 'better-sqlite3';

/**
 * An INSERT with many rows per statement: SQLite parses and plans one statement
 * for hundreds of rows, which is what makes batched writes fast. Statements are
 * prepared for a few row counts (e.g. 256, 64, 16, 4, 1) and a batch is cut greedily
 * into them, so any batch size runs on prepared statements only.
 */
export class MultiRowInsert {
  private readonly statements: readonly { rows: number; stmt: Database.Statement }[];

  constructor(
    db: Database.Database,
    head: string,
    private readonly columns: number,
    tail: string,
    sizes: readonly number[],
  ) {
    const one = `(${new Array(columns).fill('?').join(', ')})`;
    this.statements = [...sizes]
      .sort((a, b) => b - a)
      .map((rows) => ({ rows, stmt: db.prepare(`${head} VALUES ${new Array(rows).fill(one).join(', ')} ${tail}`) }));
    if (this.statements.at(-1)?.rows !== 1) throw new Error('MultiRowInsert needs a one-row size');
  }

  /**
   * Inserts `rows` rows whose values lie flat in `values` (`columns` per row).
   * `onChunkError` is given the chunk that failed (its rows' values); it either
   * handles them or rethrows.
   */
  run(values: readonly unknown[], rows: number, onChunkError?: (chunk: unknown[], err: unknown) => void): void {
    const cols = this.columns;
    let at = 0;
    for (const { rows: size, stmt } of this.statements) {
      while (rows - at >= size) {
        const chunk = values.slice(at * cols, (at + size) * cols);
        try {
          stmt.run(chunk);
        } catch (err) {
          if (onChunkError === undefined) throw err;
          onChunkError(chunk, err);
        }
        at += size;
      }
    }
  }
}
