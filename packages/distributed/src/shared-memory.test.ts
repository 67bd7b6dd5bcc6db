import { Worker } from "node:worker_threads";
import { describe, expect, inject, it } from "vitest";
import { SingleCollective } from "./collective";
import { abortSharedGroup, createSharedGroup, SharedMemoryCollective } from "./shared-memory";

function runRanks(script: string, worldSize: number, capacity: number, onStart?: (g: any) => void) {
  const group = createSharedGroup(worldSize, { capacity });
  onStart?.(group);
  return Promise.all(
    Array.from(
      { length: worldSize },
      (_, rank) =>
        new Promise<Record<string, any>>((resolve, reject) => {
          const w = new Worker(inject("collectiveScript"), { workerData: { group, rank, script } });
          w.once("message", (m) => {
            resolve(m);
            void w.terminate();
          });
          w.once("error", reject);
        }),
    ),
  );
}

/** What rank r contributes in the worker script, for the reference reduction. */
const value = (rank: number, i: number) => (rank + 1) * (i - 3) + (rank === 1 ? 0.5 : 0);

describe("SharedMemoryCollective over 3 worker threads", () => {
  it("allReduce sum / mean / max / min and broadcast give every rank the reference result, over several rounds", async () => {
    // Capacity 5 makes the arrays of 7 and 16 go through in rounds.
    const results = await runRanks("ops", 3, 5);
    for (const n of [0, 1, 7, 16]) {
      const cols = Array.from({ length: n }, (_, i) => [0, 1, 2].map((r) => value(r, i)));
      const want = {
        sum: cols.map((c) => c[0] + c[1] + c[2]),
        mean: cols.map((c) => (c[0] + c[1] + c[2]) / 3),
        max: cols.map((c) => Math.max(...c)),
        min: cols.map((c) => Math.min(...c)),
      };
      for (const r of results) {
        expect(r.error).toBeUndefined();
        for (const op of ["sum", "mean", "max", "min"] as const) {
          expect(r[`${op}${n}`]).toHaveLength(n);
          r[`${op}${n}`].forEach((v: number, i: number) => {
            expect(v).toBeCloseTo(want[op][i], 12);
          });
        }
      }
    }
    for (const r of results) expect(r.broadcast).toEqual(Array.from({ length: 11 }, (_, i) => i * 10 + 2));
  });

  it("ranks that call collectives of different lengths all fail with an error naming each call", async () => {
    const results = await runRanks("mismatch", 3, 8);
    for (const r of results) {
      expect(r.error).toMatch(
        /different collectives \(rank 0: sum of 3, rank 1: sum of 4, rank 2: sum of 3\)/,
      );
    }
  });

  it("a rank that never arrives makes the others fail once the group is aborted", async () => {
    const results = await runRanks("hang", 3, 8, (g) => setTimeout(() => abortSharedGroup(g), 300));
    expect(results[1].error).toMatch(/aborted/);
    expect(results[2].error).toMatch(/aborted/);
  });
});

describe("collective arguments", () => {
  it("rejects bad groups, ranks, options, ops and arrays with clear errors", () => {
    expect(() => createSharedGroup(0)).toThrow(/worldSize must be an integer >= 1, got 0/);
    expect(() => createSharedGroup(2, { capacty: 3 } as never)).toThrow(
      /unknown option 'capacty' in the options; did you mean 'capacity'\?/,
    );
    const g = createSharedGroup(2);
    expect(() => new SharedMemoryCollective(g, 2)).toThrow(/rank must be an integer in \[0, 1\], got 2/);
    expect(() => new SharedMemoryCollective({} as never, 0)).toThrow(/createSharedGroup/);
    const c = new SharedMemoryCollective(g, 0);
    expect(() => c.allReduce([1, 2] as never)).toThrow(/Float32Array or Float64Array, got Array/);
    expect(() => c.allReduce(new Float32Array(2), "prod" as never)).toThrow(
      /op must be one of 'sum', 'mean', 'max', 'min', got prod/,
    );
    expect(() => c.broadcast(new Float32Array(2), 5)).toThrow(/root must be an integer in \[0, 1\], got 5/);
  });

  it("a group of one leaves data unchanged", () => {
    const c = new SingleCollective();
    const a = Float32Array.of(1, 2, 3);
    c.allReduce(a, "mean");
    c.broadcast(a);
    c.barrier();
    expect([...a]).toEqual([1, 2, 3]);
    const g = new SharedMemoryCollective(createSharedGroup(1), 0);
    g.allReduce(a, "sum");
    expect([...a]).toEqual([1, 2, 3]);
  });
});
