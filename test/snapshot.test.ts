import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { closeDatabase, inSnapshot, listRuns, openDatabase, sparsityByTau, surprisalSummary } from '../src/store/index.js';
import { cliHere, SHARED_DATA, SHARED_MODEL, temporaryFolder } from './cli.js';

/**
 * inSnapshot: a reading command's queries see one snapshot, so a report taken
 * while a run commits shards never mixes figures of two moments (every reading
 * command but `sql` runs in it: cli/database.ts).
 */
const folder = temporaryFolder('snapshot');
const db = join(folder.path, 'snapshot.sqlite');

before(async () => {
  const run = await cliHere(['run', '--model', SHARED_MODEL, '--data', SHARED_DATA, '--length', '300', '--dmax', '10', '--tau', '0.01,0.1', '--db', db, '--no-report']);
  assert.equal(run.code, 0, run.stderr);
});
after(() => folder.remove());

describe('inSnapshot', () => {
  test("a commit by another connection between two reads is seen by neither inside it, and by the second outside it", async () => {
    // The writer first, in WAL mode as during a run: the reader then stays in WAL mode too.
    const writer = new Database(db);
    writer.pragma('journal_mode = WAL');
    writer.prepare(`UPDATE runs SET compute_seconds = compute_seconds`).run(); // a -wal file, as a live writer has
    const reader = openDatabase(db, { readonly: true });
    try {
      const ids = listRuns(reader).map((run) => run.run_id);
      // Another shard's worth of surprisal: what a commit during a report adds.
      const commit = () => writer.prepare(`UPDATE shards SET surprisal_sum = surprisal_sum + 1 WHERE start = 0`).run();
      const inside = await inSnapshot(reader, () => {
        const first = surprisalSummary(reader, ids).bpc;
        commit();
        return [first, surprisalSummary(reader, [...ids]).bpc];
      });
      assert.equal(inside[0], inside[1]);
      const first = surprisalSummary(reader, ids).bpc;
      commit();
      assert.notEqual(surprisalSummary(reader, [...ids]).bpc, first);
      assert.ok(sparsityByTau(reader, ids).length === 2);
    } finally {
      writer.close();
      closeDatabase(reader);
    }
  });
});
