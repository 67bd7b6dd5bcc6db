import { Heap } from "./heap";
import { WASM_BASE64, WASM_MAX_PAGES, WASM_RELAXED_BASE64 } from "./module";
import { GemmPool, getNumThreads, splitGemm, threadsSupported } from "./pool";

/** The exports of asm/kernels.ts; every pointer is a byte offset into `memory`. */
export interface WasmKernels {
  memory: WebAssembly.Memory;
  heapBase(): number;
  gemmScratchBytes(): number;
  gemm(
    a: number,
    b: number,
    c: number,
    batch: number,
    batchA: number,
    batchB: number,
    m: number,
    n: number,
    k: number,
    transA: number,
    transB: number,
    scratch: number,
  ): void;
  /** The part of gemm that writes products q0..q1, rows i0..i1 and columns j0..j1 of C. */
  gemmPart(
    a: number,
    b: number,
    c: number,
    batch: number,
    batchA: number,
    batchB: number,
    m: number,
    n: number,
    k: number,
    transA: number,
    transB: number,
    scratch: number,
    q0: number,
    q1: number,
    i0: number,
    i1: number,
    j0: number,
    j1: number,
  ): void;
  /** y = a op b over n floats (op 0 add, 1 sub, 2 mul, 3 div); a scalar flag broadcasts one float. */
  binaryF32(op: number, a: number, b: number, y: number, n: number, aScalar: number, bScalar: number): void;
  batchNormTrain(
    x: number,
    gamma: number,
    beta: number,
    y: number,
    mean: number,
    invstd: number,
    varU: number,
    outer: number,
    channels: number,
    inner: number,
    eps: number,
    scratch: number,
  ): void;
  batchNormGrad(
    dy: number,
    x: number,
    gamma: number,
    mean: number,
    invstd: number,
    dx: number,
    dgamma: number,
    dbeta: number,
    outer: number,
    channels: number,
    inner: number,
    scratch: number,
  ): void;
  /** y = op(x) over n floats, op a code of UNARY_SIMD (src/kernels/simd.ts); x may equal y. */
  unaryF32(op: number, x: number, y: number, n: number): void;
  /** y[o, i] = sum over r of x[o, r, i], x of shape [outer, reduce, inner], float64 accumulation. */
  sumF32(x: number, y: number, outer: number, reduce: number, inner: number): void;
  /** y[o, i] = max (isMax 1) or min (0) over r of x[o, r, i], NaN first, as the TypeScript kernel. */
  extremeF32(x: number, y: number, outer: number, reduce: number, inner: number, isMax: number): void;
}

function decodeBase64(s: string): Uint8Array<ArrayBuffer> {
  const B = (globalThis as { Buffer?: { from(s: string, enc: string): Uint8Array } }).Buffer;
  if (B) return new Uint8Array(B.from(s, "base64"));
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Storage that lives in wasm memory: `values` is a view at byte offset `ptr`, rebound on growth. */
export interface Resident {
  ptr: number;
  size: number;
  values: Float32Array | Int32Array | Uint8Array;
}

/** Which build of the kernels runs: relaxed SIMD (fused multiply-add in the gemm) or plain SIMD. */
export type WasmVariant = "relaxed-simd" | "simd";

/** Below this many multiply-adds per thread, waking a worker costs more than it saves. */
export const GEMM_PART_MIN_MACS = 1 << 19;

/**
 * The wasm kernels and the heap over their linear memory. Large float32 tensors of the CPU
 * backend live in this memory (see CpuBackend.alloc), so the kernels read and write them in place;
 * smaller ones, and any made before the module loaded, are ordinary arrays that a kernel call
 * copies in and out of temporary blocks.
 *
 * Growing the memory detaches every view of it (or, when it is shared, leaves them at the old
 * length), so the runtime keeps the resident arrays and rebinds their views after each growth.
 * Growth happens only inside `alloc`, on this thread: a kernel takes all its pointers (which never
 * move) before it touches any view.
 *
 * Where the memory is shared (Node.js; browsers when crossOriginIsolated), large matrix products
 * are split across worker threads that instantiate the same module over it (see pool.ts). Only
 * this thread allocates; each thread gets its own gemm scratch block, carved from one block that
 * `gemmScratch()` sizes for the threads in use.
 */
export class WasmRuntime {
  readonly exports: WasmKernels;
  readonly heap: Heap;
  private f32: Float32Array;
  private readonly resident = new Set<Resident>();
  private readonly temps: number[] = [];
  private scratchPtr = -1;
  private scratchBytes = 0;
  private pool: GemmPool | null = null;
  private readonly gemmScratchSize: number;
  /** Products split only into parts of at least this many multiply-adds (tests lower it). */
  gemmPartMinMacs = GEMM_PART_MIN_MACS;

  /**
   * @param module the compiled kernels (workers instantiate it too)
   * @param shared whether the memory is shared, so that worker threads can use it
   * @param variant which build `module` is
   */
  constructor(
    instance: WebAssembly.Instance,
    readonly module: WebAssembly.Module | null = null,
    readonly shared = false,
    readonly variant: WasmVariant = "simd",
  ) {
    this.exports = instance.exports as unknown as WasmKernels;
    const mem = this.exports.memory;
    this.heap = new Heap(this.exports.heapBase(), mem.buffer.byteLength, (minEnd) => this.growTo(minEnd));
    this.f32 = new Float32Array(mem.buffer);
    this.gemmScratchSize = Heap.roundUp(this.exports.gemmScratchBytes());
    this.warmUp();
  }

  /** Threads that may join a gemm: this one and every worker started. */
  private gemmThreads(): number {
    return this.pool ? 1 + this.pool.size() : 1;
  }

  /**
   * The gemm scratch block, sized for the threads a gemm may use (one gemmScratchBytes() block
   * each). Take it with the other pointers, before any view: it may grow memory.
   */
  gemmScratch(): number {
    return this.scratch(this.gemmScratchSize * this.gemmThreads());
  }

  /**
   * `exports.gemm`, split across worker threads when the product is large enough, the memory is
   * shared and `getNumThreads()` > 1; the same values either way, bit for bit. `scratch` is from
   * `gemmScratch()` (a block for one thread also works: the product then stays on this thread).
   */
  gemm(
    a: number,
    b: number,
    c: number,
    batch: number,
    batchA: number,
    batchB: number,
    m: number,
    n: number,
    k: number,
    transA: number,
    transB: number,
    scratch: number,
  ): void {
    const e = this.exports;
    const want = Math.min(
      getNumThreads(),
      Math.floor((batch * m * n * Math.max(k, 1)) / this.gemmPartMinMacs),
    );
    if (want > 1 && this.shared && this.module) {
      // Workers start on the first product big enough, in the background; until they are
      // ready, products run on the threads that are.
      if (!this.pool) this.pool = new GemmPool(this.module, e.memory);
      if (this.pool.size() < getNumThreads() - 1) this.pool.resize(getNumThreads() - 1);
      // Any started worker may join a product (one that has not answered yet, too): split only
      // with a scratch block for each.
      const blocks = scratch === this.scratchPtr ? Math.floor(this.scratchBytes / this.gemmScratchSize) : 1;
      const threads = blocks > this.pool.size() ? Math.min(want, 1 + this.pool.ready()) : 1;
      const parts = threads > 1 ? splitGemm(batch, m, n, threads) : [];
      if (parts.length > 1) {
        const args = [a, b, c, batch, batchA, batchB, m, n, k, transA, transB];
        this.pool.run(
          args,
          parts,
          threads - 1,
          scratch,
          this.gemmScratchSize,
          ([q0, q1, i0, i1, j0, j1], s) =>
            e.gemmPart(a, b, c, batch, batchA, batchB, m, n, k, transA, transB, s, q0, q1, i0, i1, j0, j1),
        );
        return;
      }
    }
    e.gemm(a, b, c, batch, batchA, batchB, m, n, k, transA, transB, scratch);
  }

  /**
   * Starts the worker threads now rather than at the first large product, and resolves when they
   * are ready (or failed to start) with the number of threads products can use.
   */
  async startThreads(): Promise<number> {
    const want = getNumThreads() - 1;
    if (want < 1 || !this.shared || !this.module) return 1;
    this.pool ??= new GemmPool(this.module, this.exports.memory);
    if (this.pool.size() < want) this.pool.resize(want);
    const pool = this.pool;
    for (let i = 0; i < 2000 && pool.ready() < pool.size() && !pool.anyFailed(); i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    return 1 + pool.ready();
  }

  /** Worker threads started, how many of them are ready, and chunks run (all; here) (tests). */
  poolState(): { workers: number; ready: number; chunks: number; here: number } {
    const p = this.pool;
    return {
      workers: p?.size() ?? 0,
      ready: p?.ready() ?? 0,
      chunks: p?.stats.chunks ?? 0,
      here: p?.stats.here ?? 0,
    };
  }

  /**
   * V8 first runs wasm in its baseline compiler (Liftoff, about half speed for these loops) and
   * swaps in optimized code only for calls that start after a function got hot: a kernel that
   * runs once for a long time would stay slow. A few small calls here (well under a millisecond)
   * make every kernel hot, so real calls start on optimized code once the background compile has
   * finished.
   */
  private warmUp(): void {
    const e = this.exports;
    const n = 48;
    const a = this.temp(n * n * 4);
    const b = this.temp(n * n * 4);
    const c = this.temp(n * n * 4);
    const g = this.temp(n * 4);
    const stats = this.temp(n * 4 * 5);
    const scratch = this.scratch(e.gemmScratchBytes());
    const f = this.view();
    f.fill(0.5, a >> 2, (a >> 2) + n * n);
    f.fill(0.5, b >> 2, (b >> 2) + n * n);
    f.fill(1, g >> 2, (g >> 2) + n);
    for (let i = 0; i < WARM_UP_CALLS; i++) {
      e.gemm(a, b, c, 1, 1, 1, n, n, n, i & 1, (i >> 1) & 1, scratch);
      e.batchNormTrain(
        a,
        g,
        g,
        c,
        stats,
        stats + n * 4,
        stats + n * 8,
        n >> 2,
        n,
        (i & 1) * 3 + 1,
        1e-5,
        scratch,
      );
      e.batchNormGrad(
        b,
        a,
        g,
        stats,
        stats + n * 4,
        c,
        stats + n * 12,
        stats + n * 16,
        n >> 2,
        n,
        (i & 1) * 3 + 1,
        scratch,
      );
    }
    this.release();
  }

  /**
   * Gives `r` storage for `r.size` floats in wasm memory (contents undefined) and keeps its view
   * current across growth. Returns false, leaving `r` untouched, when memory cannot grow.
   */
  makeResident(r: Resident): boolean {
    const ptr = this.heap.alloc(r.size * 4);
    if (ptr < 0) return false;
    r.ptr = ptr;
    r.values = new Float32Array(this.exports.memory.buffer, ptr, r.size);
    this.resident.add(r);
    return true;
  }

  /** Hands a block's registration (view rebinding on growth) from one record to another. */
  moveResident(from: Resident, to: Resident): void {
    if (!this.resident.delete(from)) throw new Error("internal: moving a wasm array that is not resident");
    this.resident.add(to);
  }

  freeResident(r: Resident): void {
    if (!this.resident.delete(r)) throw new Error("internal: freeing a wasm array twice");
    this.heap.free(r.ptr);
    r.ptr = -1;
  }

  /** Bytes for the current kernel call, freed by `release()`. */
  temp(bytes: number): number {
    const p = this.mustAlloc(bytes);
    this.temps.push(p);
    return p;
  }

  private mustAlloc(bytes: number): number {
    const p = this.heap.alloc(bytes);
    if (p < 0) throw new Error(`cpu backend: out of WebAssembly memory allocating ${bytes} bytes`);
    return p;
  }

  /** Frees the current call's temporary blocks. */
  release(): void {
    for (const p of this.temps) this.heap.free(p);
    this.temps.length = 0;
  }

  /** A scratch block of at least `bytes` kept across calls (the kernels' packing buffers). */
  scratch(bytes: number): number {
    if (bytes > this.scratchBytes) {
      if (this.scratchPtr >= 0) this.heap.free(this.scratchPtr);
      // Forget the freed block first: if the new one cannot be had, no stale pointer remains.
      this.scratchPtr = -1;
      this.scratchBytes = 0;
      this.scratchPtr = this.mustAlloc(bytes);
      this.scratchBytes = bytes;
    }
    return this.scratchPtr;
  }

  /** The byte offset of `r`'s storage: in place when resident, else a temporary copy of it. */
  input(r: Resident): number {
    return r.ptr >= 0 ? r.ptr : this.put(r.values as Float32Array);
  }

  /** A float32 view of the whole memory, recreated after growth detached the old one. */
  view(): Float32Array {
    if (this.f32.buffer !== this.exports.memory.buffer)
      this.f32 = new Float32Array(this.exports.memory.buffer);
    return this.f32;
  }

  /** Allocates a temporary block for `src` and copies it in. */
  put(src: Float32Array): number {
    const p = this.temp(src.length * 4);
    this.view().set(src, p >> 2);
    return p;
  }

  /** Copies `dst.length` floats at byte offset `p` out into `dst`. */
  get(p: number, dst: Float32Array): void {
    const v = this.view();
    const o = p >> 2;
    const n = dst.length;
    // Small results (scalars, per-row values) are copied by a loop: a subarray view per call was
    // a good part of what a compiled step's replay allocated.
    if (n < 64) {
      for (let i = 0; i < n; i++) dst[i] = v[o + i];
      return;
    }
    dst.set(v.subarray(o, o + n));
  }

  /**
   * Grows by at least half the current size, so a growing workload causes few growths (each one
   * rebinds every resident view). Returns the new end, or -1 past wasm32's 4 GiB.
   */
  private growTo(minEnd: number): number {
    const mem = this.exports.memory;
    const have = mem.buffer.byteLength;
    const want = Math.max(minEnd, Math.floor(have * 1.5));
    const maxBytes = 65536 * 65536;
    const pages = Math.ceil((Math.min(want, maxBytes) - have) / 65536);
    if (have + pages * 65536 < minEnd) return -1;
    try {
      mem.grow(pages);
    } catch {
      // The engine refused (address space or a configured limit): try for just what is needed.
      try {
        mem.grow(Math.ceil((minEnd - have) / 65536));
      } catch {
        return -1;
      }
    }
    const buffer = mem.buffer;
    for (const r of this.resident) r.values = new Float32Array(buffer, r.ptr, r.size);
    return buffer.byteLength;
  }
}

const WARM_UP_CALLS = 16;

let runtime: WasmRuntime | null | undefined;
let disabledReason = "";

function env(name: string): string | undefined {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];
}

function disabledByEnv(): boolean {
  return env("MINIBATCH_WASM") === "0";
}

/**
 * A copy of a module whose imported memory is declared unshared: for engines where shared memory
 * cannot be created (a browser page that is not crossOriginIsolated). The limits flag of the
 * memory import goes from 0x03 (shared, with maximum) to 0x01 (maximum); nothing else changes.
 */
export function unshareMemoryImport(bytes: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  const out = bytes.slice();
  let p = 8;
  const leb = () => {
    let v = 0;
    let shift = 0;
    let byte: number;
    do {
      byte = out[p++];
      v += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    return v;
  };
  while (p < out.length) {
    const id = out[p++];
    const size = leb();
    const end = p + size;
    if (id === 2) {
      const count = leb();
      for (let i = 0; i < count; i++) {
        for (let name = 0; name < 2; name++) {
          const len = leb(); // module name, then field name
          p += len;
        }
        const kind = out[p++];
        if (kind === 0) leb();
        else if (kind === 1 || kind === 2) {
          if (kind === 1) p++; // reference type
          const flags = out[p];
          if (kind === 2 && flags === 0x03) {
            out[p] = 0x01;
            return out;
          }
          p++;
          leb();
          if (flags & 1) leb();
        } else {
          p += 2; // global: value type, mutability
        }
      }
    }
    p = end;
  }
  throw new Error("internal: the wasm kernels import no shared memory");
}

/** The build to run, its bytes (unshared where needed), and the memory to give it. */
function choose(): { bytes: Uint8Array<ArrayBuffer>; variant: WasmVariant; memory: WebAssembly.Memory } {
  let memory: WebAssembly.Memory | null = null;
  if (threadsSupported()) {
    try {
      memory = new WebAssembly.Memory({ initial: 2, maximum: WASM_MAX_PAGES, shared: true });
    } catch {
      memory = null;
    }
  }
  const shared = memory !== null;
  memory ??= new WebAssembly.Memory({ initial: 2, maximum: WASM_MAX_PAGES });
  const prepare = (b64: string) => {
    const b = decodeBase64(b64);
    return shared ? b : unshareMemoryImport(b);
  };
  if (env("MINIBATCH_WASM_RELAXED") !== "0") {
    const relaxed = prepare(WASM_RELAXED_BASE64);
    if (WebAssembly.validate(relaxed)) return { bytes: relaxed, variant: "relaxed-simd", memory };
  }
  return { bytes: prepare(WASM_BASE64), variant: "simd", memory };
}

/**
 * The kernels, or null where WebAssembly SIMD is unavailable (the TypeScript kernels run then).
 * Compiles synchronously on first use; browsers refuse synchronous compiles of larger modules on
 * the main thread, so there the first calls fall back until `initWasm()` has finished.
 */
export function wasmRuntime(): WasmRuntime | null {
  if (runtime !== undefined) return runtime;
  if (disabledByEnv()) {
    disabledReason = "disabled by MINIBATCH_WASM=0";
    runtime = null;
    return runtime;
  }
  try {
    if (typeof WebAssembly === "undefined") {
      disabledReason = "WebAssembly SIMD is not supported here";
      runtime = null;
      return runtime;
    }
    const { bytes, variant, memory } = choose();
    if (!WebAssembly.validate(bytes)) {
      disabledReason = "WebAssembly SIMD is not supported here";
      runtime = null;
      return runtime;
    }
    const module = new WebAssembly.Module(bytes);
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    runtime = new WasmRuntime(instance, module, isShared(memory), variant);
  } catch (e) {
    // Synchronous compilation refused (browser main thread): stay on the TypeScript kernels until
    // the asynchronous compile started by initWasm() lands.
    disabledReason = `synchronous compile failed: ${(e as Error).message}`;
    runtime = null;
    void initWasm();
  }
  return runtime;
}

function isShared(memory: WebAssembly.Memory): boolean {
  return typeof SharedArrayBuffer === "function" && memory.buffer instanceof SharedArrayBuffer;
}

let pending: Promise<boolean> | null = null;

/** Compiles the kernels asynchronously (works everywhere); resolves to whether they are in use. */
export function initWasm(): Promise<boolean> {
  if (runtime) return Promise.resolve(true);
  if (disabledByEnv()) return Promise.resolve(false);
  pending ??= (async () => {
    try {
      const { bytes, variant, memory } = choose();
      if (!WebAssembly.validate(bytes)) return false;
      const module = await WebAssembly.compile(bytes);
      const instance = await WebAssembly.instantiate(module, { env: { memory } });
      runtime = new WasmRuntime(instance, module, isShared(memory), variant);
      disabledReason = "";
      return true;
    } catch (e) {
      disabledReason = `compile failed: ${(e as Error).message}`;
      return false;
    }
  })();
  return pending;
}

/**
 * Whether the WebAssembly kernels are in use, and why not when they are not; which build runs
 * (`"relaxed-simd"` where the engine has relaxed SIMD, else `"simd"`), and how many threads the
 * matrix products may use.
 */
export function wasmStatus(): {
  enabled: boolean;
  reason: string;
  variant: WasmVariant | null;
  threads: number;
} {
  const r = wasmRuntime();
  return {
    enabled: r !== null,
    reason: r ? "" : disabledReason,
    variant: r?.variant ?? null,
    threads: r?.shared ? getNumThreads() : 1,
  };
}
