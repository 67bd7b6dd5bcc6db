import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DistributedSampler } from "./distributed-sampler";

// torch.utils.data.DistributedSampler(shuffle=False) for every case, from scripts/distributed-sampler-fixture.py.
const cases: { n: number; numReplicas: number; dropLast: boolean; ranks: number[][] }[] = JSON.parse(
  readFileSync(new URL("../test/fixtures/distributed-sampler.json", import.meta.url), "utf8"),
);

describe("DistributedSampler", () => {
  it("gives each rank the indices PyTorch gives it (padding or dropping the tail)", () => {
    expect(cases.length).toBe(48);
    for (const c of cases) {
      c.ranks.forEach((want, rank) => {
        const s = new DistributedSampler(c.n, {
          numReplicas: c.numReplicas,
          rank,
          shuffle: false,
          dropLast: c.dropLast,
        });
        expect([...s.indices(0)], JSON.stringify({ ...c, rank })).toEqual(want);
        expect(s.length).toBe(want.length);
      });
    }
  });

  it("shuffled: ranks are disjoint and cover every index once with dropLast, same order for the same (seed, epoch), new order each epoch", () => {
    const n = 103;
    const ranks = [0, 1, 2, 3].map(
      (rank) => new DistributedSampler(n, { numReplicas: 4, rank, seed: 5, dropLast: true }),
    );
    const e0 = ranks.map((s) => [...s.indices(0)]);
    const all = e0.flat();
    expect(all.length).toBe(100);
    expect(new Set(all).size).toBe(100);
    expect(e0).toEqual(ranks.map((s) => [...s.indices(0)]));
    expect(ranks.map((s) => [...s.indices(1)])).not.toEqual(e0);
    // Padded: 104 slots, so exactly one index appears twice over the ranks, and every index appears.
    const padded = [0, 1, 2, 3].flatMap((rank) => [
      ...new DistributedSampler(n, { numReplicas: 4, rank, seed: 5 }).indices(2),
    ]);
    expect(padded.length).toBe(104);
    expect(new Set(padded).size).toBe(103);
  });

  it("rejects bad arguments with the expected value", () => {
    expect(() => new DistributedSampler(10, { numReplicas: 0, rank: 0 })).toThrow(
      /numReplicas must be an integer >= 1, got 0/,
    );
    expect(() => new DistributedSampler(10, { numReplicas: 2, rank: 2 })).toThrow(
      /rank must be an integer in \[0, 1\], got 2/,
    );
    expect(() => new DistributedSampler(10, { numReplicas: 2, rank: 0, drop_last: true } as never)).toThrow(
      /unknown option 'drop_last' in the options; did you mean 'dropLast'\?/,
    );
    expect(() => new DistributedSampler(-1, { numReplicas: 2, rank: 0 })).toThrow(
      /length must be an integer >= 0/,
    );
  });
});
