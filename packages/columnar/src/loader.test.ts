import "@minibatch/backend-cpu";
import { fileURLToPath } from "node:url";
import { DataLoader, DistributedSampler } from "@minibatch/data";
import type { Tensor } from "@minibatch/tensor";
import { describe, expect, it } from "vitest";
import { ParquetDataset } from "./dataset";
import { ParquetStream } from "./stream";

const TABLE = fileURLToPath(new URL("../test/fixtures/table.parquet", import.meta.url));

describe("Parquet data sets in a DataLoader", () => {
  it("a ParquetDataset with a DistributedSampler per rank: disjoint ranks, collated tensors of the right values", async () => {
    const ds = await ParquetDataset.open(TABLE, { columns: ["id", "x", "label"] });
    const seen: number[] = [];
    for (const rank of [0, 1]) {
      const sampler = new DistributedSampler(ds.length, { numReplicas: 2, rank, seed: 3 });
      const loader = new DataLoader(ds, { batchSize: 50, sampler });
      for await (const batch of loader as AsyncIterable<Record<string, Tensor>>) {
        const ids = Array.from(await batch.id.data());
        const xs = Array.from(await batch.x.data());
        expect(batch.id.shape).toEqual([ids.length]);
        ids.forEach((id, i) => {
          expect(xs[i]).toBe(id / 2);
        });
        seen.push(...ids);
        for (const t of Object.values(batch)) t.dispose();
      }
    }
    expect(seen.length).toBe(1000);
    expect(new Set(seen).size).toBe(1000);
    await ds.close();
  });

  it("a ParquetStream as an iterable dataset", async () => {
    const s = await ParquetStream.open(TABLE, { columns: ["id", "label"], shuffle: true, seed: 2 });
    const loader = new DataLoader(s, { batchSize: 64 });
    let n = 0;
    for await (const batch of loader as AsyncIterable<Record<string, Tensor>>) {
      const ids = Array.from(await batch.id.data());
      const labels = Array.from(await batch.label.data());
      ids.forEach((id, i) => {
        expect(labels[i]).toBe(id % 7);
      });
      n += ids.length;
      for (const t of Object.values(batch)) t.dispose();
    }
    expect(n).toBe(1000);
    await s.close();
  });
});
