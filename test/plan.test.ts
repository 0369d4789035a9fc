import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultShardSize, planShards } from '../src/runner/plan.js';

describe('planShards', () => {
  test('cuts a fresh run into contiguous shards of at most the shard size', () => {
    assert.deepEqual(planShards(10, [], 4), [
      { start: 0, count: 4 },
      { start: 4, count: 4 },
      { start: 8, count: 2 },
    ]);
  });

  test('plans only the gaps between committed ranges, in any order given', () => {
    const committed = [
      { start: 6, count: 2 },
      { start: 0, count: 3 },
    ];
    assert.deepEqual(planShards(12, committed, 5), [
      { start: 3, count: 3 },
      { start: 8, count: 4 },
    ]);
  });

  test('plans nothing for a run whose ranges cover it', () => {
    assert.deepEqual(planShards(5, [{ start: 0, count: 5 }], 2), []);
  });

  test('refuses overlapping ranges and ranges past the end (a corrupt store)', () => {
    assert.throws(() => planShards(10, [{ start: 0, count: 4 }, { start: 3, count: 2 }], 4), /overlaps/);
    assert.throws(() => planShards(10, [{ start: 8, count: 3 }], 4), /outside 0\.\.10/);
  });
});

describe('defaultShardSize', () => {
  test('gives each thread at least four shards of what the job has left, within [16, 1024]', () => {
    assert.equal(defaultShardSize(1023, 2), 128);
    assert.equal(defaultShardSize(40, 8), 16);
    assert.equal(defaultShardSize(24 * 1023, 2), 1024);
    assert.equal(defaultShardSize(1_000_000, 2), 1024);
  });

  test("keeps a shard's depth masses within 64 MiB: smaller shards for a huge Dmax", () => {
    assert.equal(defaultShardSize(1_000_000, 2, 50), 1024);
    assert.equal(defaultShardSize(1_000_000, 2, 65_536), 256);
    assert.equal(defaultShardSize(1_000_000, 2, 16_383), 1024);
    assert.equal(defaultShardSize(1_000_000, 2, 32_767), 512);
  });
});
