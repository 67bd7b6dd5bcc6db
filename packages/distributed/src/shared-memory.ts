import { checkOptionKeys } from "@minibatch/tensor";
import { type Collective, type CollectiveArray, checkArray, checkOp, type ReduceOp } from "./collective";

/** What every rank needs to join a shared-memory group; post it to worker threads as it is. */
export interface SharedGroupDescriptor {
  readonly worldSize: number;
  /** Elements per rank per round; longer arrays go through in rounds of this size. */
  readonly capacity: number;
  readonly control: SharedArrayBuffer;
  readonly data: SharedArrayBuffer;
}

// Control words: the barrier's arrival count and generation, the abort flag, then per rank the
// length and op of the collective it is in (checked so that mismatched calls fail, not corrupt).
const COUNT = 0;
const GEN = 1;
const ABORT = 2;
const PER_RANK = 4;
const OP_CODES: Record<string, number> = { sum: 1, mean: 2, max: 3, min: 4, broadcast: 5 };

export interface SharedGroupOptions {
  /** Elements (float64) per rank and round (default 1 << 20: 8 MB per rank). */
  capacity?: number;
}

/** Allocates the shared memory of a group of `worldSize` ranks (call once, on the coordinating thread). */
export function createSharedGroup(worldSize: number, opts: SharedGroupOptions = {}): SharedGroupDescriptor {
  if (!Number.isInteger(worldSize) || worldSize < 1) {
    throw new Error(`createSharedGroup: worldSize must be an integer >= 1, got ${String(worldSize)}`);
  }
  checkOptionKeys("createSharedGroup", opts, ["capacity"]);
  const capacity = opts.capacity ?? 1 << 20;
  if (!Number.isInteger(capacity) || capacity < 1) {
    throw new Error(`createSharedGroup: capacity must be an integer >= 1, got ${String(capacity)}`);
  }
  if (typeof SharedArrayBuffer === "undefined") {
    throw new Error(
      "createSharedGroup: SharedArrayBuffer is not available (in a browser the page must be crossOriginIsolated: serve it with COOP/COEP headers)",
    );
  }
  return {
    worldSize,
    capacity,
    control: new SharedArrayBuffer(4 * (PER_RANK + 2 * worldSize)),
    // One slot per rank for its contribution, one for the result.
    data: new SharedArrayBuffer(8 * capacity * (worldSize + 1)),
  };
}

/** Marks the group as failed: every rank waiting in a collective throws instead of hanging. */
export function abortSharedGroup(group: SharedGroupDescriptor): void {
  const ctrl = new Int32Array(group.control);
  Atomics.store(ctrl, ABORT, 1);
  Atomics.add(ctrl, GEN, 1);
  Atomics.notify(ctrl, GEN);
}

export interface SharedMemoryCollectiveOptions {
  /** A rank that waits longer than this at a barrier throws (default 120000 ms). */
  timeoutMs?: number;
}

/**
 * Collectives between the threads of one process over SharedArrayBuffer and Atomics (Node.js
 * worker threads as is; browser workers when the page is crossOriginIsolated). allReduce is a
 * reduce-scatter then all-gather through shared memory: each rank reduces 1/worldSize of the
 * elements, so the work per rank stays flat as ranks are added.
 */
export class SharedMemoryCollective implements Collective {
  readonly worldSize: number;
  private readonly ctrl: Int32Array;
  private readonly slots: Float64Array;
  private readonly capacity: number;
  private readonly timeoutMs: number;

  constructor(
    group: SharedGroupDescriptor,
    readonly rank: number,
    opts: SharedMemoryCollectiveOptions = {},
  ) {
    if (
      !group ||
      !(group.control instanceof SharedArrayBuffer) ||
      !(group.data instanceof SharedArrayBuffer)
    ) {
      throw new Error("SharedMemoryCollective: group must come from createSharedGroup()");
    }
    this.worldSize = group.worldSize;
    if (!Number.isInteger(rank) || rank < 0 || rank >= this.worldSize) {
      throw new Error(
        `SharedMemoryCollective: rank must be an integer in [0, ${this.worldSize - 1}], got ${String(rank)}`,
      );
    }
    for (const k of Object.keys(opts)) {
      if (k !== "timeoutMs") {
        throw new Error(`SharedMemoryCollective: unknown option '${k}' (did you mean 'timeoutMs'?)`);
      }
    }
    this.timeoutMs = opts.timeoutMs ?? 120_000;
    this.capacity = group.capacity;
    this.ctrl = new Int32Array(group.control);
    this.slots = new Float64Array(group.data);
  }

  barrier(): void {
    const ctrl = this.ctrl;
    const gen = Atomics.load(ctrl, GEN);
    this.checkAbort();
    if (Atomics.add(ctrl, COUNT, 1) === this.worldSize - 1) {
      Atomics.store(ctrl, COUNT, 0);
      Atomics.add(ctrl, GEN, 1);
      Atomics.notify(ctrl, GEN);
      return;
    }
    // A short spin first: the other ranks are usually microseconds away, and waking from
    // Atomics.wait costs tens of microseconds.
    for (let i = 0; i < 2000; i++) {
      if (Atomics.load(ctrl, GEN) !== gen) {
        this.checkAbort();
        return;
      }
    }
    const start = Date.now();
    while (Atomics.load(ctrl, GEN) === gen) {
      Atomics.wait(ctrl, GEN, gen, 100);
      if (Date.now() - start > this.timeoutMs) {
        throw new Error(
          `SharedMemoryCollective: rank ${this.rank} waited more than ${this.timeoutMs} ms for the other ranks (one stopped, failed, or called a different collective)`,
        );
      }
    }
    this.checkAbort();
  }

  allReduce(data: CollectiveArray, op: ReduceOp = "sum"): void {
    checkArray(data, "allReduce");
    checkOp(op, "allReduce");
    const W = this.worldSize;
    if (W === 1) return;
    this.announce(data.length, op);
    const cap = this.capacity;
    const slots = this.slots;
    const out = W * cap;
    for (let off = 0; off < data.length || off === 0; off += cap) {
      const m = Math.min(cap, data.length - off);
      const mine = this.rank * cap;
      for (let j = 0; j < m; j++) slots[mine + j] = data[off + j];
      this.barrier();
      if (off === 0) this.verify(data.length, op, "allReduce");
      // Reduce this rank's share of the round, always in rank order so every run sums alike.
      const lo = Math.floor((m * this.rank) / W);
      const hi = Math.floor((m * (this.rank + 1)) / W);
      for (let j = lo; j < hi; j++) {
        let acc = slots[j];
        for (let r = 1; r < W; r++) {
          const v = slots[r * cap + j];
          if (op === "max") acc = v > acc || Number.isNaN(v) ? v : acc;
          else if (op === "min") acc = v < acc || Number.isNaN(v) ? v : acc;
          else acc += v;
        }
        slots[out + j] = op === "mean" ? acc / W : acc;
      }
      this.barrier();
      for (let j = 0; j < m; j++) data[off + j] = slots[out + j];
      if (m === 0) break;
    }
  }

  broadcast(data: CollectiveArray, root = 0): void {
    checkArray(data, "broadcast");
    if (!Number.isInteger(root) || root < 0 || root >= this.worldSize) {
      throw new Error(
        `broadcast: root must be an integer in [0, ${this.worldSize - 1}], got ${String(root)}`,
      );
    }
    if (this.worldSize === 1) return;
    this.announce(data.length, "broadcast");
    const cap = this.capacity;
    const out = this.worldSize * cap;
    for (let off = 0; off < data.length || off === 0; off += cap) {
      const m = Math.min(cap, data.length - off);
      // Nobody may still be reading the result slot from the previous collective.
      this.barrier();
      if (off === 0) this.verify(data.length, "broadcast", "broadcast");
      if (this.rank === root) for (let j = 0; j < m; j++) this.slots[out + j] = data[off + j];
      this.barrier();
      if (this.rank !== root) for (let j = 0; j < m; j++) data[off + j] = this.slots[out + j];
      if (m === 0) break;
    }
  }

  /**
   * Publishes this rank's call. The first barrier of the call makes every announcement visible;
   * nobody can overwrite its own before everyone has passed the call's second barrier.
   */
  private announce(length: number, op: string): void {
    Atomics.store(this.ctrl, PER_RANK + 2 * this.rank, length);
    Atomics.store(this.ctrl, PER_RANK + 2 * this.rank + 1, OP_CODES[op]);
  }

  /** Every rank sees the same announcements, so on a mismatch every rank throws (none hangs). */
  private verify(length: number, op: string, what: string): void {
    const ctrl = this.ctrl;
    const calls: string[] = [];
    let same = true;
    for (let r = 0; r < this.worldSize; r++) {
      const len = Atomics.load(ctrl, PER_RANK + 2 * r);
      const code = Atomics.load(ctrl, PER_RANK + 2 * r + 1);
      if (len !== length || code !== OP_CODES[op]) same = false;
      const name = Object.keys(OP_CODES).find((k) => OP_CODES[k] === code) ?? "?";
      calls.push(`rank ${r}: ${name} of ${len}`);
    }
    if (!same) {
      throw new Error(
        `${what}: the ranks called different collectives (${calls.join(", ")}); every rank must call the same operations in the same order with arrays of the same length`,
      );
    }
  }

  private checkAbort(): void {
    if (Atomics.load(this.ctrl, ABORT) !== 0) {
      throw new Error(
        `SharedMemoryCollective: rank ${this.rank}: the group was aborted (another rank failed)`,
      );
    }
  }
}
