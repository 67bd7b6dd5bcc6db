import "@minibatch/backend-cpu";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, inject, it } from "vitest";
import { Subset, ZipDataset } from "../datasets";
import { DataLoader } from "../loader";
import { IdxDataset } from "../readers/idx-file";
import { vals } from "../test-utils";

const workerScript = inject("workerScript");
const fixture = fileURLToPath(new URL("../../test/fixtures/squares.mjs", import.meta.url));

async function squares(n: number) {
  return (await import(fixture)).squares(n);
}

/** Batches as plain values, to compare loaders. */
async function snapshot(loader: AsyncIterable<any>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const b of loader) {
    out.push({ x: vals(b.x), xShape: b.x.shape, y: vals(b.y), yType: b.y.dtype, tag: b.tag });
  }
  return out;
}

function idxFile(dir: string, name: string, dims: number[], fill: (i: number) => number): string {
  const n = dims.reduce((a, b) => a * b, 1);
  const buf = Buffer.alloc(4 + 4 * dims.length + n);
  buf.writeUInt32BE(0x0800 + dims.length, 0);
  dims.forEach((d, i) => {
    buf.writeUInt32BE(d, 4 + 4 * i);
  });
  for (let i = 0; i < n; i++) buf[4 + 4 * dims.length + i] = fill(i) & 255;
  const p = join(dir, name);
  writeFileSync(p, buf);
  return p;
}

describe("DataLoader with worker threads", () => {
  it("gives the same batches as workers: 0, in order, for the same seed, over several epochs", async () => {
    const ds = await squares(53);
    const opts = { batchSize: 4, shuffle: true, seed: 9 } as const;
    const base = new DataLoader(ds, opts);
    const par = new DataLoader(ds, {
      ...opts,
      workers: 3,
      workerDataset: { module: fixture, export: "squares", args: [53] },
      workerScript,
    });
    expect(par.length).toBe(base.length);
    for (let e = 0; e < 2; e++) {
      const want = await snapshot(base);
      const got = await snapshot(par);
      expect(got).toEqual(want);
      expect(got).toHaveLength(14);
    }
  });

  it("keeps order with async, unevenly slow samples", async () => {
    const ds = await squares(40);
    const base = await snapshot(new DataLoader(ds, { batchSize: 3 }));
    const par = new DataLoader(ds, {
      batchSize: 3,
      workers: 4,
      prefetch: 5,
      workerDataset: { module: new URL(`file://${fixture}`), export: "slowSquares", args: [40] },
      workerScript,
    });
    expect(await snapshot(par)).toEqual(base);
  });

  it("runs a custom collate on the main thread", async () => {
    const ds = await squares(10);
    const loader = new DataLoader(ds, {
      batchSize: 4,
      collate: (s: any[]) => s.map((v) => v.tag).join(","),
      workers: 2,
      workerDataset: { module: fixture, export: "squares", args: [10] },
      workerScript,
    });
    const out: string[] = [];
    for await (const b of loader) out.push(b as string);
    expect(out).toEqual(["s0,s1,s2,s3", "s4,s5,s6,s7", "s8,s9"]);
  });

  it("rebuilds IDX datasets (and subsets, zips of them) from their description", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mb-idx-"));
    const img = await IdxDataset.open(
      idxFile(dir, "img", [30, 2, 3], (i) => i),
      { scale: 0.5 },
    );
    const lab = await IdxDataset.open(idxFile(dir, "lab", [30], (i) => i % 10));
    const ds = new Subset(new ZipDataset([img, lab], ["x", "y"]), [5, 3, 29, 0, 1, 2, 7, 8, 9, 10, 11]);
    const snap = async (workers: number) => {
      const out: unknown[] = [];
      for await (const b of new DataLoader<any, any>(ds, {
        batchSize: 4,
        shuffle: true,
        seed: 1,
        workers,
        workerScript,
      })) {
        out.push([vals(b.x), b.x.shape, vals(b.y), b.y.dtype]);
      }
      return out;
    };
    const want = await snap(0);
    expect(await snap(2)).toEqual(want);
    expect((want[0] as any[])[1]).toEqual([4, 2, 3]);
    await img.close();
    await lab.close();
  });

  it("stops the workers when the loop breaks early, and can iterate again", async () => {
    const ds = await squares(100);
    const loader = new DataLoader(ds, {
      batchSize: 2,
      workers: 2,
      workerDataset: { module: fixture, export: "squares", args: [100] },
      workerScript,
    });
    let n = 0;
    for await (const _ of loader) if (++n === 3) break;
    expect(n).toBe(3);
    expect((await snapshot(loader)).length).toBe(50);
  });

  it("reports errors from a worker with the batch, and stops", async () => {
    const ds = { length: 10, get: (i: number) => Float32Array.of(i) };
    const loader = new DataLoader(ds, {
      batchSize: 2,
      workers: 2,
      workerDataset: { module: fixture, export: "failing", args: [10] },
      workerScript,
    });
    const seen: number[][] = [];
    await expect(
      (async () => {
        for await (const b of loader) seen.push(vals(b));
      })(),
    ).rejects.toThrow(/worker 0, batch 2, sample 5: record 5 is corrupt/);
    expect(seen).toEqual([
      [0, 1],
      [2, 3],
    ]);
  });

  it("keeps the worker's stack: it shows where the dataset failed", async () => {
    const loader = new DataLoader(
      { length: 10, get: (i: number) => Float32Array.of(i) },
      {
        batchSize: 2,
        workers: 1,
        workerDataset: { module: fixture, export: "failing", args: [10] },
        workerScript,
      },
    );
    const err = await (async () => {
      for await (const _ of loader);
    })().catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).stack).toMatch(/in worker thread 0[\s\S]*squares\.mjs/);
  });

  it("a worker whose get never returns fails after `timeout` seconds instead of hanging", async () => {
    const loader = new DataLoader(
      { length: 8, get: (i: number) => Float32Array.of(i) },
      {
        batchSize: 2,
        workers: 2,
        timeout: 0.5,
        workerDataset: { module: fixture, export: "hanging", args: [8] },
        workerScript,
      },
    );
    const seen: number[][] = [];
    await expect(
      (async () => {
        for await (const b of loader) seen.push(vals(b));
      })(),
    ).rejects.toThrow(
      /DataLoader: timed out after 0.5 s waiting for batch 1 \(samples \[2, 3\]\) from worker 1/,
    );
    expect(seen).toEqual([[0, 1]]);
  });

  it("reports a bad module or export, and a length mismatch", async () => {
    const ds = await squares(10);
    const mk = (workerDataset: any) =>
      new DataLoader(ds, { batchSize: 2, workers: 1, workerDataset, workerScript });
    await expect(snapshot(mk({ module: fixture, export: "nope" }))).rejects.toThrow(/has no export 'nope'/);
    await expect(snapshot(mk({ module: fixture, export: "squares", args: [11] }))).rejects.toThrow(
      /rebuilt in the workers has length 11.*has length 10/,
    );
    await expect(snapshot(mk({ module: fixture, export: "fixed" }))).resolves.toHaveLength(5);
  });
});
