import "@minibatch/backend-cpu";
import { describe, expect, it } from "vitest";
import { ArrayDataset, ConcatDataset, getMany, Subset, ZipDataset } from "./datasets";
import { IterableDataset } from "./iterable";
import { randomSplit } from "./split";

const range = (n: number) => new ArrayDataset(Array.from({ length: n }, (_, i) => i));
const all = async <T>(ds: { length: number; get(i: number): T | Promise<T> }) =>
  Promise.all(Array.from({ length: ds.length }, (_, i) => ds.get(i)));

describe("map-style datasets", () => {
  it("ArrayDataset checks indices", () => {
    expect(range(3).get(2)).toBe(2);
    expect(() => range(3).get(3)).toThrow("ArrayDataset: index 3 is out of range for a dataset of length 3");
    expect(() => range(3).get(-1)).toThrow(/out of range/);
  });

  it("map is lazy and can be async; take and skip slice", async () => {
    let calls = 0;
    const ds = range(10).map((x) => {
      calls++;
      return x * 10;
    });
    expect(calls).toBe(0);
    expect(ds.get(3)).toBe(30);
    expect(calls).toBe(1);
    const asyncDs = range(4).map(async (x, i) => x + i);
    expect(await all(asyncDs)).toEqual([0, 2, 4, 6]);
    expect(await all(range(10).take(3))).toEqual([0, 1, 2]);
    expect(await all(range(10).skip(8))).toEqual([8, 9]);
    expect(range(3).take(10).length).toBe(3);
    expect(range(3).skip(10).length).toBe(0);
  });

  it("Subset, ConcatDataset and ZipDataset", async () => {
    expect(await all(new Subset(range(10), [9, 0, 5]))).toEqual([9, 0, 5]);
    expect(() => new Subset(range(3), [3])).toThrow(/index 3 is out of range/);
    const cat = new ConcatDataset([range(2), range(0), range(3)]);
    expect(cat.length).toBe(5);
    expect(await all(cat)).toEqual([0, 1, 0, 1, 2]);
    const zip = new ZipDataset([range(3), range(3).map((x) => `s${x}`)], ["n", "s"]);
    expect(await all(zip)).toEqual([
      { n: 0, s: "s0" },
      { n: 1, s: "s1" },
      { n: 2, s: "s2" },
    ]);
    expect(await getMany(new ZipDataset([range(3), range(3)]), [2, 0])).toEqual([
      [2, 2],
      [0, 0],
    ]);
    expect(() => new ZipDataset([range(2), range(3)])).toThrow(
      "dataset 1 has length 3 but dataset 0 has length 2",
    );
  });

  it("randomSplit by lengths or fractions: disjoint, covering, reproducible", () => {
    const ds = range(10);
    const [a, b] = randomSplit(ds, [7, 3], { seed: 1 });
    expect(a.length + b.length).toBe(10);
    const seen = [...a.indices, ...b.indices].sort((x, y) => x - y);
    expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => i));
    const [c] = randomSplit(ds, [7, 3], { seed: 1 });
    expect([...c.indices]).toEqual([...a.indices]);
    const parts = randomSplit(range(10), [0.5, 0.25, 0.25], { seed: 2 });
    expect(parts.map((p) => p.length)).toEqual([6, 2, 2]); // floor, then the remainder from the first part on (PyTorch)
    expect(() => randomSplit(ds, [5, 4])).toThrow(
      /lengths summing to the dataset length 10 or fractions summing to 1/,
    );
  });
});

describe("iterable datasets", () => {
  const src = () => IterableDataset.from(() => Array.from({ length: 10 }, (_, i) => i));

  it("map, filter, take, skip are lazy and re-iterable", async () => {
    const ds = src()
      .map((x) => x * 2)
      .filter((x) => x % 3 !== 0)
      .skip(1)
      .take(3);
    expect(await ds.toArray()).toEqual([4, 8, 10]);
    expect(await ds.toArray()).toEqual([4, 8, 10]);
    let pulled = 0;
    const counted = IterableDataset.from(async function* () {
      for (let i = 0; ; i++) {
        pulled++;
        yield i;
      }
    }).take(5);
    expect(await counted.toArray()).toEqual([0, 1, 2, 3, 4]);
    expect(pulled).toBe(5);
  });

  it("shuffle(bufferSize, seed) is a permutation, seeded, new per pass; a full buffer shuffles uniformly", async () => {
    const a = src().shuffle(4, 7);
    const first = await a.toArray();
    const second = await a.toArray();
    expect([...first].sort((x, y) => x - y)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(first).not.toEqual(second);
    expect(await src().shuffle(4, 7).toArray()).toEqual(first);
    // A buffer of 1 cannot reorder anything.
    expect(await src().shuffle(1, 3).toArray()).toEqual(Array.from({ length: 10 }, (_, i) => i));
    // With a full buffer, the first element is uniform over the dataset.
    const counts = new Array(10).fill(0);
    const full = src().shuffle(10, 1);
    for (let k = 0; k < 2000; k++) counts[(await full.iterate(k).next()).value as number]++;
    for (const c of counts) expect(c).toBeGreaterThan(120);
    expect(() => src().shuffle(0)).toThrow(/bufferSize must be a positive integer/);
  });

  it("shard splits without overlap", async () => {
    const shards = await Promise.all([0, 1, 2].map((k) => src().shard(3, k).toArray()));
    expect(shards).toEqual([
      [0, 3, 6, 9],
      [1, 4, 7],
      [2, 5, 8],
    ]);
    expect(() => src().shard(3, 3)).toThrow(/index must be an integer in \[0, 2\]/);
  });
});
