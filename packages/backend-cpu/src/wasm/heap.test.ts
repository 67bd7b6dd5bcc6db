import { describe, expect, it } from "vitest";
import { Heap } from "./heap";

/** A heap over [base, end) whose memory grows in 64 KiB pages up to `limit`. */
function heap(limit = 1 << 20, base = 1000) {
  let end = 65536;
  let grows = 0;
  const h = new Heap(base, end, (minEnd) => {
    if (minEnd > limit) return -1;
    grows++;
    end = Math.ceil(minEnd / 65536) * 65536;
    return end;
  });
  return { h, grows: () => grows };
}

describe("Heap", () => {
  it("hands out aligned, disjoint blocks", () => {
    const { h } = heap();
    const blocks = [1, 63, 64, 65, 1000, 4096, 12345].map((n) => [h.alloc(n), n] as const);
    for (const [p] of blocks) expect(p % Heap.ALIGN).toBe(0);
    expect(blocks[0][0]).toBeGreaterThanOrEqual(1000);
    const sorted = [...blocks].sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < sorted.length; i++)
      expect(sorted[i][0]).toBeGreaterThanOrEqual(sorted[i - 1][0] + sorted[i - 1][1]);
  });

  it("reuses a freed block of the same size without growing", () => {
    const { h, grows } = heap();
    const keep = h.alloc(100);
    const a = h.alloc(40000);
    const b = h.alloc(40000); // past the first 64 KiB: one growth
    expect(grows()).toBe(1);
    h.free(a);
    expect(h.alloc(40000)).toBe(a);
    expect(grows()).toBe(1);
    h.free(b);
    h.free(keep);
  });

  it("merges free neighbours and gives the end back to the top", () => {
    const { h } = heap();
    const a = h.alloc(640);
    const b = h.alloc(640);
    const c = h.alloc(640);
    const d = h.alloc(640); // keeps c from touching the top
    h.free(a);
    h.free(c);
    h.free(b); // a, b and c merge into one block of 3 x 640 bytes
    expect(h.alloc(3 * 640)).toBe(a);
    h.free(a);
    h.free(d); // everything is free: the top returns to the start
    expect(h.stats().used).toBe(a);
    expect(h.stats().live).toBe(0);
  });

  it("splits a larger free block and keeps the rest usable", () => {
    const { h } = heap();
    const big = h.alloc(64 * 100);
    const guard = h.alloc(64);
    h.free(big);
    const x = h.alloc(64 * 30);
    const y = h.alloc(64 * 70);
    expect(x).toBe(big);
    expect(y).toBe(big + 64 * 30);
    expect(h.stats().used).toBe(guard + 64);
  });

  it("returns -1 when memory cannot grow, and stays usable", () => {
    const { h } = heap(200_000);
    const a = h.alloc(150_000);
    expect(a).toBeGreaterThan(0);
    expect(h.alloc(100_000)).toBe(-1);
    h.free(a);
    expect(h.alloc(100_000)).toBe(a);
  });

  it("rejects freeing what it did not hand out", () => {
    const { h } = heap();
    const a = h.alloc(64);
    h.free(a);
    expect(() => h.free(a)).toThrow(/not allocated/);
    expect(() => h.free(12345)).toThrow(/not allocated/);
  });

  it("stays consistent under a random sequence (no overlap, all bytes accounted for)", () => {
    const { h } = heap(64 << 20);
    let s = 7;
    const rnd = () => {
      s = (s * 1103515245 + 12345) >>> 0;
      return s / 4294967296;
    };
    const live = new Map<number, number>();
    for (let step = 0; step < 5000; step++) {
      if (live.size > 0 && rnd() < 0.45) {
        const keys = [...live.keys()];
        const p = keys[Math.floor(rnd() * keys.length)];
        h.free(p);
        live.delete(p);
      } else {
        const n = 1 + Math.floor(rnd() ** 3 * 200_000);
        const p = h.alloc(n);
        expect(p).toBeGreaterThan(0);
        live.set(p, n);
      }
      if (step % 50 === 0) {
        const sorted = [...live].sort((x, y) => x[0] - y[0]);
        for (let i = 1; i < sorted.length; i++)
          expect(sorted[i][0]).toBeGreaterThanOrEqual(sorted[i - 1][0] + sorted[i - 1][1]);
      }
    }
    const rounded = [...live.values()].reduce((t, n) => t + Heap.roundUp(n), 0);
    expect(h.stats().live).toBe(rounded);
    for (const p of live.keys()) h.free(p);
    expect(h.stats().live).toBe(0);
    expect(h.stats().used).toBe(Heap.roundUp(1000));
  });
});
