import { GEN_MASK, JOB, SLOT, SPIN_MS, WORKER_SOURCE } from "./worker-source";

// Worker threads that run parts of a matrix product over the shared wasm memory.
//
// The matmul kernel is synchronous, so the pool is too. The calling thread writes the product and
// its chunks into the job block (a SharedArrayBuffer all threads read), bumps the product number
// there and wakes as many workers as it wants to help (Atomics.notify); then every thread, the
// calling one included, takes chunks (a compare-exchange on a ticket that holds the product number
// and the next chunk) until none is left, and counts each written chunk down. The calling thread
// returns when the count is zero, so it never waits for a worker that the OS has not yet
// scheduled: such a worker wakes to find nothing left. A product's job block is rewritten only
// once its count is zero, and with the ticket closed meanwhile, so a worker still on the previous
// product takes nothing from the next. Chunks are fixed before the threads start (and every
// element of C is summed in the same order whatever the chunk), so which thread computes which
// chunk does not change any value.
//
// Node.js lets the main thread block in Atomics.wait; a browser's main thread may not block, so
// there it spins on Atomics.load for the chunks still being written by workers (it takes chunks
// itself first, so it only spins for the last ones). Workers start lazily, in the background: a
// product uses those that are ready. Node.js workers are unref()'d, so they never keep a process
// alive. Between products a worker watches the job block for SPIN_MS, then sleeps in Atomics.wait:
// the products of a training step come every few tens of microseconds, and a sleeping worker
// takes tens of microseconds to wake, about a small product's share (measured: a W3 step at batch
// 60 ran about 10 % faster with watching workers than with sleeping ones, and slower with one
// thread). The calling thread likewise watches before it sleeps on the last chunks.

/** One gemm part: products q0 .. q1, rows i0 .. i1, columns j0 .. j1 of C. */
export type GemmPart = readonly [q0: number, q1: number, i0: number, i1: number, j0: number, j1: number];

/** The gemm's register tile (MR x NR in asm/kernels.ts): parts split on tile boundaries. */
const MR = 5;
const NR = 8;

/** Chunks per thread: threads take chunks as they go, so a thread the OS delays holds up little. */
const CHUNKS_PER_THREAD = 4;
/** Fewest rows (columns) in a chunk, so that packing all of B (A) per chunk stays cheap. */
const MIN_CHUNK = 64;
/** The most chunks in one product (the size of the job block). */
export const MAX_CHUNKS = 256;
/** The ticket's chunk field while the job block is being written: past any chunk count. */
const CLOSED = 1023;

/**
 * Splits a product for `threads` threads into chunks (at least `threads` where the product is big
 * enough, at most 4 per thread) that the threads take in turn: whole products when there are
 * enough of them, else row blocks of every product, or column blocks when the product is wider
 * than tall (each chunk then packs all of A rather than all of B, the smaller).
 */
export function splitGemm(batch: number, m: number, n: number, threads: number): GemmPart[] {
  const most = Math.min(MAX_CHUNKS, threads * CHUNKS_PER_THREAD);
  if (threads > 1 && batch >= 2 * threads) {
    return cut(batch, 1, Math.min(batch, most)).map(([q0, q1]) => [q0, q1, 0, m, 0, n] as const);
  }
  const rows = m >= n;
  const size = rows ? m : n;
  const chunks = Math.min(most, Math.max(threads, Math.floor(size / MIN_CHUNK)));
  if (rows) return cut(m, MR, chunks).map(([i0, i1]) => [0, batch, i0, i1, 0, n] as const);
  return cut(n, NR, chunks).map(([j0, j1]) => [0, batch, 0, m, j0, j1] as const);
}

/** [0, size) cut into at most `parts` ranges that start on multiples of `unit`, sizes within one unit. */
function cut(size: number, unit: number, parts: number): [number, number][] {
  const units = Math.ceil(size / unit);
  const p = Math.max(1, Math.min(parts, units));
  const out: [number, number][] = [];
  for (let i = 0; i < p; i++) {
    const lo = Math.min(size, Math.floor((units * i) / p) * unit);
    const hi = Math.min(size, Math.floor((units * (i + 1)) / p) * unit);
    if (hi > lo) out.push([lo, hi]);
  }
  return out;
}

interface NodeWorker {
  unref(): void;
  terminate(): Promise<number>;
  on(event: "error" | "exit", f: (e: unknown) => void): void;
}
interface NodeHost {
  kind: "node";
  Worker: new (code: string, opts: { eval: true; workerData: unknown }) => NodeWorker;
  cpus: number;
  /** Whether this is a worker thread rather than the main thread. */
  inWorker: boolean;
}
interface BrowserHost {
  kind: "browser";
  cpus: number;
}

type G = {
  process?: {
    env?: Record<string, string | undefined>;
    versions?: { node?: string };
    getBuiltinModule?: (id: string) => unknown;
  };
  navigator?: { hardwareConcurrency?: number };
  crossOriginIsolated?: boolean;
  Worker?: new (url: string) => { postMessage(m: unknown): void; terminate(): void };
};
const g = globalThis as unknown as G;

let hostCache: NodeHost | BrowserHost | null | undefined;
let noThreadsReason = "";

/** Where worker threads over shared memory can run; null (and `noThreadsReason`) where not. */
function host(): NodeHost | BrowserHost | null {
  if (hostCache !== undefined) return hostCache;
  hostCache = null;
  if (typeof SharedArrayBuffer !== "function" || typeof Atomics !== "object") {
    noThreadsReason = "SharedArrayBuffer is not available (a browser page must be crossOriginIsolated)";
  } else if (g.process?.versions?.node) {
    const wt = g.process.getBuiltinModule?.("node:worker_threads") as
      | { Worker?: NodeHost["Worker"]; isMainThread?: boolean }
      | undefined;
    const os = g.process.getBuiltinModule?.("node:os") as
      | { availableParallelism?: () => number; cpus: () => unknown[] }
      | undefined;
    if (wt?.Worker && os) {
      hostCache = {
        kind: "node",
        Worker: wt.Worker,
        cpus: os.availableParallelism?.() ?? os.cpus().length,
        inWorker: wt.isMainThread === false,
      };
    } else {
      noThreadsReason =
        "node:worker_threads is not available (process.getBuiltinModule needs Node.js >= 20.16)";
    }
  } else if (typeof g.Worker === "function" && g.crossOriginIsolated === true) {
    hostCache = { kind: "browser", cpus: g.navigator?.hardwareConcurrency ?? 1 };
  } else {
    noThreadsReason = "the page is not crossOriginIsolated (needs COOP/COEP headers), or has no Worker";
  }
  return hostCache;
}

/** Whether shared wasm memory and worker threads can be used here. */
export function threadsSupported(): boolean {
  return host() !== null;
}

/** Why threads cannot be used here ("" where they can). */
export function threadsUnsupportedReason(): string {
  host();
  return noThreadsReason;
}

/** No more threads than this, whatever is asked (each holds a 1 MiB gemm scratch block). */
export const MAX_THREADS = 64;

let requested: number | null = null;

function fromEnv(): number | null {
  const v = g.process?.env?.MINIBATCH_NUM_THREADS;
  if (v === undefined || v === "") return null;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`MINIBATCH_NUM_THREADS must be a positive integer, got "${v}"`);
  }
  return n;
}

/**
 * Sets how many threads the CPU backend's matrix products (matmul, and convolutions through it)
 * may use, the calling thread included, like PyTorch's `torch.set_num_threads`. 1 turns the worker
 * threads off (running workers are stopped). Results do not depend on it: every thread count gives
 * the same values, bit for bit. Where threads cannot run (no SharedArrayBuffer: a browser page that
 * is not crossOriginIsolated), it has no effect.
 */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`setNumThreads: expected a positive integer, got ${n}`);
  }
  requested = Math.min(n, MAX_THREADS);
  activePool?.resize(requested - 1);
}

/**
 * How many threads the matrix products may use: what `setNumThreads` set, else the environment
 * variable `MINIBATCH_NUM_THREADS`, else the processors available (`os.availableParallelism()`,
 * `navigator.hardwareConcurrency`); 1 where threads cannot run. In a Node.js worker thread the
 * default is 1: programs that run a model per worker (data-parallel replicas) already use the
 * cores, and a pool in each would oversubscribe them.
 */
export function getNumThreads(): number {
  const h = host();
  if (!h) return 1;
  const byDefault = h.kind === "node" && h.inWorker ? 1 : Math.max(1, h.cpus);
  requested ??= Math.min(fromEnv() ?? byDefault, MAX_THREADS);
  return requested;
}

let canBlockCache: boolean | undefined;

/** Whether this thread may block in Atomics.wait (not a browser's main thread). */
function canBlock(): boolean {
  if (canBlockCache === undefined) {
    try {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
      canBlockCache = true;
    } catch {
      canBlockCache = false;
    }
  }
  return canBlockCache;
}

interface Slot {
  control: Int32Array;
  stop(): void;
}

let activePool: GemmPool | null = null;
let workerUrl: string | undefined;

/** The worker threads of one wasm runtime (see the top of this file). */
export class GemmPool {
  private readonly slots: Slot[] = [];
  /** The current product, read by every worker (layout: JOB). */
  private readonly job = new Int32Array(new SharedArrayBuffer((JOB.parts + 6 * MAX_CHUNKS) * 4));
  private gen = 0;
  /** Chunks run, and how many of them on the calling thread (tests check that workers help). */
  readonly stats = { chunks: 0, here: 0 };

  /** @param module the kernels, @param memory the shared memory they import */
  constructor(
    private readonly module: WebAssembly.Module,
    private readonly memory: WebAssembly.Memory,
  ) {
    activePool = this;
  }

  /**
   * Starts or stops workers so that there are `workers` (they start in the background). Worker i
   * uses scratch block i + 1 of every product, so the caller must give every product blocks for
   * 1 + size() threads: a worker that has not yet answered may still join any product.
   */
  resize(workers: number): void {
    while (this.slots.length > workers) this.slots.pop()?.stop();
    const h = host();
    if (!h) return;
    while (this.slots.length < workers) {
      const slot = this.spawn(h, this.slots.length + 1);
      if (!slot) break;
      this.slots.push(slot);
    }
  }

  /** Workers started (ready or not). */
  size(): number {
    return this.slots.length;
  }

  /** The workers that have instantiated the kernels and can take a part now. */
  ready(): number {
    let n = 0;
    for (const s of this.slots) if (Atomics.load(s.control, SLOT.ready) === 1) n++;
    return n;
  }

  /** Whether a worker failed to start or died. */
  anyFailed(): boolean {
    return this.slots.some((s) => Atomics.load(s.control, SLOT.ready) === -1);
  }

  /**
   * Runs the chunks `parts` of a gemm with arguments `args` (a, b, c, batch, batchA, batchB, m, n,
   * k, transA, transB) on this thread and the workers, waking `wake` of them: each thread takes
   * the next chunk until none is left. Thread t (this one is 0) uses the scratch block
   * `scratch + t * scratchStride`, which must exist for t <= size(); `here(part, scratch)` runs a
   * chunk on this thread. Returns when every chunk is written.
   */
  run(
    args: readonly number[],
    parts: readonly GemmPart[],
    wake: number,
    scratch: number,
    scratchStride: number,
    here: (part: GemmPart, scratch: number) => void,
  ): void {
    const job = this.job;
    if (parts.length > MAX_CHUNKS) throw new Error("internal: too many gemm chunks");
    this.gen = (this.gen + 1) & GEN_MASK;
    const gen = this.gen;
    // Close the ticket first: a worker still looking at the previous product (it took nothing
    // and is about to see that none is left) may read the new chunk count below, but its
    // compare-exchange on the old ticket then fails. Open it once the block is written.
    Atomics.store(job, JOB.ticket, (gen << 10) | CLOSED);
    for (let i = 0; i < 11; i++) job[JOB.args + i] = args[i];
    job[JOB.scratch] = scratch;
    job[JOB.stride] = scratchStride;
    parts.forEach((p, i) => {
      for (let j = 0; j < 6; j++) job[JOB.parts + 6 * i + j] = p[j];
    });
    Atomics.store(job, JOB.failed, 0);
    Atomics.store(job, JOB.chunks, parts.length);
    Atomics.store(job, JOB.remaining, parts.length);
    Atomics.store(job, JOB.ticket, gen << 10);
    Atomics.store(job, JOB.gen, gen);
    if (wake > 0) Atomics.notify(job, JOB.gen, wake);
    this.stats.chunks += parts.length;
    let error: unknown = null;
    for (;;) {
      const t = Atomics.load(job, JOB.ticket);
      const i = t & 1023;
      if (i >= parts.length) break;
      if (Atomics.compareExchange(job, JOB.ticket, t, t + 1) !== t) continue;
      // After an error, the remaining chunks are taken and skipped, so that the count reaches 0.
      this.stats.here++;
      if (error === null) {
        try {
          here(parts[i], scratch);
        } catch (e) {
          error = e;
        }
      }
      Atomics.sub(job, JOB.remaining, 1);
    }
    // The last chunks are usually microseconds from done: watch before sleeping, as being woken
    // from Atomics.wait costs tens of microseconds.
    const block = canBlock();
    const until = performance.now() + SPIN_MS;
    for (let r = Atomics.load(job, JOB.remaining); r !== 0; r = Atomics.load(job, JOB.remaining)) {
      if (block && performance.now() > until) Atomics.wait(job, JOB.remaining, r);
    }
    if (error !== null) throw error;
    if (Atomics.load(job, JOB.failed) !== 0) throw new Error("internal: a gemm worker thread failed");
  }

  private spawn(h: NodeHost | BrowserHost, index: number): Slot | null {
    const control = new Int32Array(new SharedArrayBuffer(SLOT.size * 4));
    const init = {
      module: this.module,
      memory: this.memory,
      control: control.buffer,
      job: this.job.buffer,
      index,
    };
    // Stopped before it is terminated: a worker told to stop takes no chunk of a later product.
    const dead = () => {
      Atomics.store(control, SLOT.stop, 1);
      Atomics.store(control, SLOT.ready, -1);
    };
    try {
      if (h.kind === "node") {
        const w = new h.Worker(WORKER_SOURCE, { eval: true, workerData: init });
        w.unref();
        w.on("error", dead);
        w.on("exit", dead);
        return {
          control,
          stop: () => {
            dead();
            void w.terminate();
          },
        };
      }
      // One URL for every worker, kept: a worker may fetch it after its constructor returned.
      workerUrl ??= URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "text/javascript" }));
      const W = g.Worker as NonNullable<G["Worker"]>;
      const w = new W(workerUrl);
      w.postMessage(init);
      return {
        control,
        stop: () => {
          dead();
          w.terminate();
        },
      };
    } catch {
      return null;
    }
  }
}
