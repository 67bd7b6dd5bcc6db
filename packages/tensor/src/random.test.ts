import { describe, expect, it } from "vitest";
import { Generator } from "./random";

describe("Generator", () => {
  it("is deterministic by seed and differs across seeds", () => {
    const a = new Generator(42);
    const b = new Generator(42);
    const c = new Generator(43);
    const sa = Array.from({ length: 5 }, () => a.nextUint32());
    expect(Array.from({ length: 5 }, () => b.nextUint32())).toEqual(sa);
    expect(Array.from({ length: 5 }, () => c.nextUint32())).not.toEqual(sa);
    // seeds that differ only above 32 bits give different streams
    expect(new Generator(2 ** 32 + 1).nextUint32()).not.toBe(new Generator(1).nextUint32());
  });
  it("uniform values fill [0, 1) evenly", () => {
    const g = new Generator(1);
    const bins = new Array(10).fill(0);
    for (let i = 0; i < 100_000; i++) {
      const u = g.random();
      expect(u >= 0 && u < 1).toBe(true);
      bins[Math.floor(u * 10)]++;
    }
    for (const b of bins) expect(Math.abs(b - 10_000)).toBeLessThan(500); // ~5 sigma
  });
  it("normal values have mean 0 and variance 1", () => {
    const g = new Generator(2);
    let s = 0;
    let s2 = 0;
    const n = 100_000;
    for (let i = 0; i < n; i++) {
      const v = g.normal();
      s += v;
      s2 += v * v;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.02);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.02);
  });
  it("permutation holds every index once; state round-trips", () => {
    const g = new Generator(3);
    const p = Array.from(g.permutation(1000));
    expect([...p].sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    const state = g.getState();
    const next = g.randint(0, 100);
    expect(g.setState(state).randint(0, 100)).toBe(next);
  });
});
