import "@minibatch/backend-cpu";
import { describe, expect, it } from "vitest";
import {
  BatchSampler,
  RandomSampler,
  SequentialSampler,
  ShardSampler,
  SubsetRandomSampler,
  WeightedRandomSampler,
} from "./samplers";

const take = (s: { indices(e: number): Iterable<number> }, e = 0) => [...s.indices(e)];
const sorted = (a: number[]) => [...a].sort((x, y) => x - y);
const iota = (n: number) => Array.from({ length: n }, (_, i) => i);

describe("samplers", () => {
  it("sequential", () => {
    expect(take(new SequentialSampler(4))).toEqual([0, 1, 2, 3]);
    expect(take(new SequentialSampler(0))).toEqual([]);
    expect(() => new SequentialSampler(-1)).toThrow(/length must be an integer >= 0/);
  });

  it("random without replacement: a permutation per epoch, reproducible by seed", () => {
    const s = new RandomSampler(20, { seed: 4 });
    expect(sorted(take(s, 0))).toEqual(iota(20));
    expect(take(s, 0)).toEqual(take(new RandomSampler(20, { seed: 4 }), 0));
    expect(take(s, 1)).not.toEqual(take(s, 0));
    expect(take(new RandomSampler(20, { seed: 5 }), 0)).not.toEqual(take(s, 0));
  });

  it("random with numSamples, with and without replacement", () => {
    const more = new RandomSampler(5, { seed: 1, numSamples: 12 });
    const got = take(more);
    expect(got).toHaveLength(12);
    expect(sorted(got.slice(0, 5))).toEqual(iota(5));
    expect(sorted(got.slice(5, 10))).toEqual(iota(5));
    const rep = take(new RandomSampler(3, { seed: 2, replacement: true, numSamples: 300 }));
    expect(rep).toHaveLength(300);
    expect(new Set(rep)).toEqual(new Set([0, 1, 2]));
    expect(() => new RandomSampler(0, { replacement: true, numSamples: 1 })).toThrow(/empty dataset/);
  });

  it("subset random", () => {
    const s = new SubsetRandomSampler([10, 20, 30, 40], { seed: 3 });
    expect(sorted(take(s))).toEqual([10, 20, 30, 40]);
    expect(s.length).toBe(4);
  });

  it("weighted random follows the weights; without replacement never repeats", () => {
    const s = new WeightedRandomSampler([1, 0, 3], 4000, { seed: 9 });
    const counts = [0, 0, 0];
    for (const i of s.indices(0)) counts[i]++;
    expect(counts[1]).toBe(0);
    expect(counts[2] / counts[0]).toBeGreaterThan(2.6);
    expect(counts[2] / counts[0]).toBeLessThan(3.4);
    const nr = take(new WeightedRandomSampler([5, 1, 1, 0, 2], 4, { replacement: false, seed: 1 }));
    expect(sorted(nr)).toEqual([0, 1, 2, 4]);
    expect(() => new WeightedRandomSampler([1, 0], 2, { replacement: false })).toThrow(
      /cannot draw 2 samples/,
    );
    expect(() => new WeightedRandomSampler([1, -1], 2)).toThrow(/weight 1 is -1/);
  });

  it("batch sampler", () => {
    const b = new BatchSampler(new SequentialSampler(7), 3);
    expect([...b.batches(0)]).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
    expect(b.length).toBe(3);
    const d = new BatchSampler(new SequentialSampler(7), 3, true);
    expect([...d.batches(0)]).toEqual([
      [0, 1, 2],
      [3, 4, 5],
    ]);
    expect(d.length).toBe(2);
    expect(() => new BatchSampler(new SequentialSampler(7), 0)).toThrow(/batchSize must be an integer >= 1/);
  });

  it("shard sampler: disjoint shards that cover everything, per epoch", () => {
    for (const n of [0, 1, 10, 11]) {
      for (const shuffle of [false, true]) {
        const shards = [0, 1, 2].map(
          (k) => new ShardSampler(n, { numShards: 3, shardIndex: k, shuffle, seed: 5 }),
        );
        for (const e of [0, 1]) {
          const parts = shards.map((s) => take(s, e));
          for (const [k, p] of parts.entries()) expect(p).toHaveLength(shards[k].length);
          expect(sorted(parts.flat())).toEqual(iota(n));
        }
      }
    }
    const even = [0, 1, 2].map(
      (k) => new ShardSampler(11, { numShards: 3, shardIndex: k, dropUneven: true }),
    );
    expect(even.map((s) => take(s).length)).toEqual([3, 3, 3]);
    expect(() => new ShardSampler(10, { numShards: 2, shardIndex: 0, shuffle: true })).toThrow(
      /explicit seed/,
    );
    expect(() => new ShardSampler(10, { numShards: 2, shardIndex: 2 })).toThrow(
      /shardIndex must be an integer in \[0, 1\]/,
    );
  });
});
