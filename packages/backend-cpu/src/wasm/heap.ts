/**
 * A first-fit allocator with coalescing over a range of WebAssembly linear memory that only grows.
 * The bookkeeping lives in JavaScript maps rather than in block headers, so a stray kernel write
 * past the end of a tensor cannot corrupt the allocator, and freeing checks what it frees.
 *
 * Free blocks are binned by size class (4 classes per power of two); a request takes the first
 * block of its own class that fits, else any block of a larger class, and splits off the rest.
 * A freed block merges with free neighbours, and one that ends at the top of the used range gives
 * its bytes back to it. Training loops allocate the same sizes every step, so after the first step
 * nearly every request is served from a bin without growing memory.
 */
export class Heap {
  /** Every block starts on this boundary: whole cache lines, and aligned for v128 loads. */
  static readonly ALIGN = 64;
  private top: number;
  private end: number;
  private readonly freeByStart = new Map<number, number>();
  private readonly freeByEnd = new Map<number, number>();
  private readonly bins: Set<number>[] = [];
  private readonly live = new Map<number, number>();
  private liveBytes = 0;

  /**
   * @param base first usable byte
   * @param end first byte past the memory currently available
   * @param grow makes memory reach at least `minEnd` bytes; returns the new end, or -1 when it cannot
   */
  constructor(
    base: number,
    end: number,
    private readonly grow: (minEnd: number) => number,
  ) {
    this.top = Heap.roundUp(base);
    this.end = end;
  }

  static roundUp(bytes: number): number {
    return Math.ceil(bytes / Heap.ALIGN) * Heap.ALIGN;
  }

  /** Byte offset of a fresh block of at least `bytes` bytes (contents undefined), or -1. */
  alloc(bytes: number): number {
    const size = Heap.roundUp(Math.max(bytes, 1));
    let p = this.takeFree(size);
    if (p < 0) {
      if (this.top + size > this.end) {
        const end = this.grow(this.top + size);
        if (end < this.top + size) return -1;
        this.end = end;
      }
      p = this.top;
      this.top += size;
    }
    this.live.set(p, size);
    this.liveBytes += size;
    return p;
  }

  free(p: number): void {
    const size = this.live.get(p);
    if (size === undefined) throw new Error(`internal: heap free of ${p}, which is not allocated`);
    this.live.delete(p);
    this.liveBytes -= size;
    let start = p;
    let stop = p + size;
    const before = this.freeByEnd.get(start);
    if (before !== undefined) {
      this.unlink(before);
      start = before;
    }
    const afterSize = this.freeByStart.get(stop);
    if (afterSize !== undefined) {
      this.unlink(stop);
      stop += afterSize;
    }
    if (stop === this.top) this.top = start;
    else this.link(start, stop - start);
  }

  /** Bytes in live blocks, bytes below the top (live or free), and bytes the memory spans. */
  stats(): { live: number; blocks: number; used: number; reserved: number } {
    return { live: this.liveBytes, blocks: this.live.size, used: this.top, reserved: this.end };
  }

  private takeFree(size: number): number {
    const first = Heap.classOf(size);
    for (let c = first; c < this.bins.length; c++) {
      const bin = this.bins[c];
      if (!bin || bin.size === 0) continue;
      for (const start of bin) {
        const have = this.freeByStart.get(start) as number;
        // Every block of a larger class is larger than `size`; only the first class needs a check.
        if (have < size) continue;
        this.unlink(start);
        if (have > size) this.link(start + size, have - size);
        return start;
      }
    }
    return -1;
  }

  private link(start: number, size: number): void {
    this.freeByStart.set(start, size);
    this.freeByEnd.set(start + size, start);
    const c = Heap.classOf(size);
    let bin = this.bins[c];
    if (!bin) {
      for (let i = this.bins.length; i <= c; i++) this.bins.push(new Set());
      bin = this.bins[c];
    }
    bin.add(start);
  }

  private unlink(start: number): void {
    const size = this.freeByStart.get(start) as number;
    this.freeByStart.delete(start);
    this.freeByEnd.delete(start + size);
    this.bins[Heap.classOf(size)].delete(start);
  }

  /** 4 classes per power of two: the exponent and the two bits after the leading one. */
  private static classOf(size: number): number {
    const e = 31 - Math.clz32(size);
    const sub = e >= 2 ? (size >>> (e - 2)) & 3 : 0;
    return e * 4 + sub;
  }
}
