import "@minibatch/backend-cpu";
import { manualSeed, type Tensor, tensor } from "@minibatch/tensor";
import { describe, expect, it } from "vitest";
import { ArrayDataset } from "./datasets";
import { IterableDataset } from "./iterable";
import { DataLoader } from "./loader";
import { int32Scalar } from "./ndarray";
import { BatchSampler, SequentialSampler } from "./samplers";
import { TensorDataset } from "./tensor-dataset";
import { collect, vals } from "./test-utils";

const range = (n: number) => new ArrayDataset(Array.from({ length: n }, (_, i) => i));

async function indexBatches(loader: DataLoader<number, Tensor>): Promise<number[][]> {
  return (await collect(loader)).map(vals);
}

describe("DataLoader batching", () => {
  it.each([
    // n, batchSize, dropLast, expected batch sizes
    [10, 5, false, [5, 5]],
    [10, 5, true, [5, 5]],
    [10, 3, false, [3, 3, 3, 1]],
    [10, 3, true, [3, 3, 3]],
    [2, 5, false, [2]],
    [2, 5, true, []],
    [0, 4, false, []],
    [0, 4, true, []],
  ] as const)("n=%i batchSize=%i dropLast=%s", async (n, batchSize, dropLast, sizes) => {
    const loader = new DataLoader<number, Tensor>(range(n), { batchSize, dropLast });
    expect(loader.length).toBe(sizes.length);
    const batches = await indexBatches(loader);
    expect(batches.map((b) => b.length)).toEqual(sizes);
    expect(batches.flat()).toEqual(Array.from({ length: sizes.reduce((a, b) => a + b, 0) }, (_, i) => i));
  });

  it("length is ceil(N / batchSize), or floor with dropLast", () => {
    for (const n of [0, 1, 7, 64, 65]) {
      for (const b of [1, 4, 64]) {
        expect(new DataLoader(range(n), { batchSize: b }).length).toBe(Math.ceil(n / b));
        expect(new DataLoader(range(n), { batchSize: b, dropLast: true }).length).toBe(Math.floor(n / b));
      }
    }
  });

  it("stacks numbers into float32 and typed arrays along a new first axis", async () => {
    const ds = new ArrayDataset([Float32Array.of(1, 2), Float32Array.of(3, 4), Float32Array.of(5, 6)]);
    const [b] = await collect(new DataLoader<Float32Array, Tensor>(ds, { batchSize: 3 }));
    expect(b.shape).toEqual([3, 2]);
    expect(b.dtype).toBe("float32");
    expect(vals(b)).toEqual([1, 2, 3, 4, 5, 6]);
    const [n] = await collect(new DataLoader<number, Tensor>(range(3), { batchSize: 3 }));
    expect(n.shape).toEqual([3]);
    expect(n.dtype).toBe("float32");
  });

  it("collates records and tuples field by field", async () => {
    const ds = new ArrayDataset(
      Array.from({ length: 5 }, (_, i) => ({
        x: Float32Array.of(i, -i),
        label: int32Scalar(i % 2),
        pair: [i, i > 2] as [number, boolean],
        id: `s${i}`,
      })),
    );
    const batches = await collect(new DataLoader<any, any>(ds, { batchSize: 2 }));
    expect(batches).toHaveLength(3);
    const b = batches[0];
    expect(b.x.shape).toEqual([2, 2]);
    expect(vals(b.x)).toEqual([0, -0, 1, -1]);
    expect(b.label.dtype).toBe("int32");
    expect(b.label.shape).toEqual([2]);
    expect(vals(b.label)).toEqual([0, 1]);
    expect(vals(b.pair[0])).toEqual([0, 1]);
    expect(b.pair[1].dtype).toBe("bool");
    expect(b.id).toEqual(["s0", "s1"]);
    expect(batches[2].x.shape).toEqual([1, 2]);
  });

  it("stacks tensor samples and rejects unequal shapes, naming both", async () => {
    const ok = new ArrayDataset([tensor([1, 2]), tensor([3, 4])]);
    const [b] = await collect(new DataLoader<Tensor, Tensor>(ok, { batchSize: 2 }));
    expect(b.shape).toEqual([2, 2]);
    const ragged = new ArrayDataset([tensor([1, 2]), tensor([3, 4, 5])]);
    await expect(collect(new DataLoader(ragged, { batchSize: 2 }))).rejects.toThrow(
      /shape \[2\].*shape \[3\]/,
    );
  });

  it("ragged typed-array samples fail with both shapes and the field", async () => {
    const ds = new ArrayDataset([{ x: new Float32Array(3) }, { x: new Float32Array(4) }]);
    await expect(collect(new DataLoader(ds, { batchSize: 2 }))).rejects.toThrow(
      "collate: samples have unequal shapes at 'x': sample 0 has shape [3], sample 1 has shape [4]",
    );
  });

  it("a custom collate receives the samples", async () => {
    const loader = new DataLoader(range(5), { batchSize: 2, collate: (s: number[]) => s.join("+") });
    expect(await collect(loader)).toEqual(["0+1", "2+3", "4"]);
  });

  it("TensorDataset yields rows of each tensor", async () => {
    const x = tensor([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    const y = tensor([0, 1, 0], { dtype: "int32" });
    const batches = await collect(new DataLoader<any, Tensor[]>(new TensorDataset(x, y), { batchSize: 2 }));
    expect(batches[0][0].shape).toEqual([2, 2]);
    expect(vals(batches[0][0])).toEqual([1, 2, 3, 4]);
    expect(batches[0][1].dtype).toBe("int32");
    expect(vals(batches[1][1])).toEqual([0]);
  });
});

describe("DataLoader shuffling", () => {
  it("covers every index exactly once per epoch, in a new order each epoch", async () => {
    const loader = new DataLoader<number, Tensor>(range(100), { batchSize: 7, shuffle: true, seed: 3 });
    const epochs: number[][] = [];
    for (let e = 0; e < 3; e++) {
      const order = (await indexBatches(loader)).flat();
      expect([...order].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
      epochs.push(order);
    }
    expect(epochs[0]).not.toEqual(epochs[1]);
    expect(epochs[1]).not.toEqual(epochs[2]);
    expect(epochs[0]).not.toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it("the same seed gives the same orders; setEpoch replays an epoch", async () => {
    const a = new DataLoader<number, Tensor>(range(50), { batchSize: 8, shuffle: true, seed: 11 });
    const b = new DataLoader<number, Tensor>(range(50), { batchSize: 8, shuffle: true, seed: 11 });
    const c = new DataLoader<number, Tensor>(range(50), { batchSize: 8, shuffle: true, seed: 12 });
    const a0 = await indexBatches(a);
    const a1 = await indexBatches(a);
    expect(await indexBatches(b)).toEqual(a0);
    expect(await indexBatches(b)).toEqual(a1);
    expect((await indexBatches(c)).flat()).not.toEqual(a0.flat());
    a.setEpoch(1);
    expect(a.epoch).toBe(1);
    expect(await indexBatches(a)).toEqual(a1);
    a.setEpoch(0);
    expect(await indexBatches(a)).toEqual(a0);
  });

  it("without a seed, manualSeed makes the order reproducible", async () => {
    manualSeed(5);
    const a = (
      await indexBatches(new DataLoader<number, Tensor>(range(30), { batchSize: 4, shuffle: true }))
    ).flat();
    manualSeed(5);
    const b = (
      await indexBatches(new DataLoader<number, Tensor>(range(30), { batchSize: 4, shuffle: true }))
    ).flat();
    expect(a).toEqual(b);
  });

  it("uses a custom sampler or batch sampler", async () => {
    const rev = { length: 4, indices: () => [3, 2, 1, 0] };
    expect(await indexBatches(new DataLoader(range(4), { sampler: rev, batchSize: 3 }))).toEqual([
      [3, 2, 1],
      [0],
    ]);
    const bs = new BatchSampler(new SequentialSampler(5), 2, true);
    expect(await indexBatches(new DataLoader(range(5), { batchSampler: bs }))).toEqual([
      [0, 1],
      [2, 3],
    ]);
  });
});

describe("DataLoader options", () => {
  const ds = range(10);
  it.each([
    [{ batchSize: 0 }, "batchSize must be an integer >= 1, got 0"],
    [{ batchSize: 2.5 }, "batchSize must be an integer >= 1, got 2.5"],
    [{ prefetch: 0 }, "prefetch must be an integer >= 1"],
    [{ workers: -1 }, "workers must be an integer >= 0"],
    [{ workers: 1.5 }, "workers must be an integer >= 0"],
    [{ shuffle: true, sampler: new SequentialSampler(10) }, "shuffle cannot be combined with sampler"],
    [
      { batchSampler: new BatchSampler(new SequentialSampler(10), 2), batchSize: 4 },
      "cannot be combined with batchSize",
    ],
    [
      { batchSampler: new BatchSampler(new SequentialSampler(10), 2), dropLast: true },
      "cannot be combined with dropLast",
    ],
    [
      { batchSampler: new BatchSampler(new SequentialSampler(10), 2), shuffle: true },
      "cannot be combined with shuffle",
    ],
    [{ batch_size: 4 }, "unknown option 'batch_size' in the options; did you mean 'batchSize'?"],
    [{ timeout: -1 }, "timeout must be a number of seconds >= 0"],
    [{ seed: 3 }, "seed is only used with shuffle: true"],
    [{ shuffle: true, seed: -1 }, "seed must be an integer >= 0"],
    [{ collate: 3 }, "collate must be a function"],
  ])("rejects %o", (opts, msg) => {
    expect(() => new DataLoader(ds, opts as any)).toThrow(msg);
  });

  it("rejects workers for datasets that cannot be rebuilt in a worker, saying why", () => {
    expect(() => new DataLoader(ds, { workers: 2 })).toThrow(/ArrayDataset holds its samples.*workers: 0/);
    expect(
      () =>
        new DataLoader(
          ds.map((x) => x * 2),
          { workers: 2 },
        ),
    ).toThrow(/\.map\(\) holds a JavaScript function.*workerDataset/);
  });
});

describe("DataLoader errors and timeout", () => {
  it("names the batch and the sample index that failed, keeping the cause and its stack", async () => {
    const ds = {
      length: 10,
      get(i: number) {
        if (i === 7) throw new Error("bad record");
        return Float32Array.of(i);
      },
    };
    const err = await collect(new DataLoader(ds, { batchSize: 3 })).catch((e: Error) => e);
    expect((err as Error).message).toBe("DataLoader: batch 2, sample 7: bad record");
    expect(((err as Error).cause as Error).message).toBe("bad record");
    expect((err as Error).stack).toMatch(/loader\.test\.ts/);
    // An async get that rejects.
    const async = { length: 4, get: async (i: number) => (i === 2 ? Promise.reject(new Error("nope")) : i) };
    await expect(collect(new DataLoader(async, { batchSize: 2, collate: (s) => s }))).rejects.toThrow(
      "DataLoader: batch 1, sample 2: nope",
    );
  });

  it("a get that never settles fails after `timeout` seconds instead of hanging", async () => {
    const ds = { length: 6, get: (i: number) => (i === 4 ? new Promise<number>(() => {}) : i) };
    const seen: unknown[] = [];
    await expect(
      (async () => {
        for await (const b of new DataLoader(ds, { batchSize: 2, timeout: 0.2, collate: (s) => s }))
          seen.push(b);
      })(),
    ).rejects.toThrow(/timed out after 0.2 s waiting for batch 2 \(samples \[4, 5\]\) from the dataset/);
    expect(seen).toEqual([
      [0, 1],
      [2, 3],
    ]);
  });
});

describe("DataLoader over iterable datasets", () => {
  const stream = (n: number) => IterableDataset.from(() => Array.from({ length: n }, (_, i) => i));

  it("batches with batchSize and dropLast", async () => {
    expect((await collect(new DataLoader<number, Tensor>(stream(7), { batchSize: 3 }))).map(vals)).toEqual([
      [0, 1, 2],
      [3, 4, 5],
      [6],
    ]);
    expect(
      (await collect(new DataLoader<number, Tensor>(stream(7), { batchSize: 3, dropLast: true }))).map(vals),
    ).toEqual([
      [0, 1, 2],
      [3, 4, 5],
    ]);
    expect(await collect(new DataLoader(stream(0), { batchSize: 3 }))).toEqual([]);
    expect(
      await collect(new DataLoader(stream(5), { batchSize: 2, collate: (s: number[]) => s.length })),
    ).toEqual([2, 2, 1]);
  });

  it("rejects shuffle and sampler, pointing at .shuffle(bufferSize)", () => {
    expect(() => new DataLoader(stream(3), { shuffle: true })).toThrow(
      /dataset\.shuffle\(bufferSize, seed\)/,
    );
    expect(() => new DataLoader(stream(3), { sampler: new SequentialSampler(3) })).toThrow(
      /needs random access/,
    );
    expect(() => new DataLoader(stream(3), { workers: 2 })).toThrow(/shard/);
    expect(() => new DataLoader(stream(3)).length).toThrow(/no length/);
  });

  it("reads at most `prefetch` batches ahead of an endless stream and closes it on break", async () => {
    let pulled = 0;
    let closed = false;
    const endless = IterableDataset.from(async function* () {
      try {
        for (let i = 0; ; i++) {
          pulled++;
          yield i;
        }
      } finally {
        closed = true;
      }
    });
    const got: number[][] = [];
    for await (const b of new DataLoader<number, Tensor>(endless, { batchSize: 4, prefetch: 2 })) {
      got.push(vals(b));
      if (got.length === 3) break;
    }
    expect(got[2]).toEqual([8, 9, 10, 11]);
    expect(pulled).toBeLessThanOrEqual(4 * 5);
    expect(closed).toBe(true);
  });

  it("a shuffled stream gets a new order per loader epoch, reproducibly", async () => {
    const ds = stream(20).shuffle(8, 4);
    const loader = new DataLoader<number, Tensor>(ds, { batchSize: 20 });
    const e0 = vals((await collect(loader))[0]);
    const e1 = vals((await collect(loader))[0]);
    expect([...e0].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(e0).not.toEqual(e1);
    loader.setEpoch(0);
    expect(vals((await collect(loader))[0])).toEqual(e0);
  });
});

describe("DataLoader prefetch and early exit", () => {
  it("never has more than `prefetch` batches loading ahead", async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const ds = {
      length: 40,
      async get(i: number) {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setTimeout(r, 1));
        inFlight--;
        return i;
      },
    };
    const loader = new DataLoader(ds, { batchSize: 4, prefetch: 3, collate: (s: number[]) => s });
    const got = await collect(loader);
    expect(got.flat()).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(maxInFlight).toBeLessThanOrEqual(3 * 4);
    expect(maxInFlight).toBeGreaterThan(4);
  });

  it("stops loading when the loop breaks", async () => {
    let reads = 0;
    const ds = {
      length: 1000,
      get(i: number) {
        reads++;
        return i;
      },
    };
    for await (const _ of new DataLoader(ds, { batchSize: 10, prefetch: 2 })) break;
    await new Promise((r) => setTimeout(r, 10));
    expect(reads).toBeLessThanOrEqual(30);
  });
});
