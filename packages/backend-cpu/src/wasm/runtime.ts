import { Heap } from "./heap";
import { WASM_BASE64 } from "./module";

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

/**
 * The wasm kernels and the heap over their linear memory. Large float32 tensors of the CPU
 * backend live in this memory (see CpuBackend.alloc), so the kernels read and write them in place;
 * smaller ones, and any made before the module loaded, are ordinary arrays that a kernel call
 * copies in and out of temporary blocks.
 *
 * Growing the memory detaches every view of it, so the runtime keeps the resident arrays and
 * rebinds their views after each growth. Growth happens only inside `alloc`: a kernel takes all
 * its pointers (which never move) before it touches any view.
 */
export class WasmRuntime {
  readonly exports: WasmKernels;
  readonly heap: Heap;
  private f32: Float32Array;
  private readonly resident = new Set<Resident>();
  private readonly temps: number[] = [];
  private scratchPtr = -1;
  private scratchBytes = 0;

  constructor(instance: WebAssembly.Instance) {
    this.exports = instance.exports as unknown as WasmKernels;
    const mem = this.exports.memory;
    this.heap = new Heap(this.exports.heapBase(), mem.buffer.byteLength, (minEnd) => this.growTo(minEnd));
    this.f32 = new Float32Array(mem.buffer);
    this.warmUp();
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
    dst.set(v.subarray(p >> 2, (p >> 2) + dst.length));
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

function bytes(): Uint8Array<ArrayBuffer> {
  return decodeBase64(WASM_BASE64);
}

function disabledByEnv(): boolean {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  return env?.MINIBATCH_WASM === "0";
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
    const b = bytes();
    if (typeof WebAssembly === "undefined" || !WebAssembly.validate(b)) {
      disabledReason = "WebAssembly SIMD is not supported here";
      runtime = null;
      return runtime;
    }
    runtime = new WasmRuntime(new WebAssembly.Instance(new WebAssembly.Module(b), {}));
  } catch (e) {
    // Synchronous compilation refused (browser main thread): stay on the TypeScript kernels until
    // the asynchronous compile started by initWasm() lands.
    disabledReason = `synchronous compile failed: ${(e as Error).message}`;
    runtime = null;
    void initWasm();
  }
  return runtime;
}

let pending: Promise<boolean> | null = null;

/** Compiles the kernels asynchronously (works everywhere); resolves to whether they are in use. */
export function initWasm(): Promise<boolean> {
  if (runtime) return Promise.resolve(true);
  if (disabledByEnv()) return Promise.resolve(false);
  pending ??= (async () => {
    try {
      const b = bytes();
      if (!WebAssembly.validate(b)) return false;
      const { instance } = await WebAssembly.instantiate(b, {});
      runtime = new WasmRuntime(instance);
      disabledReason = "";
      return true;
    } catch (e) {
      disabledReason = `compile failed: ${(e as Error).message}`;
      return false;
    }
  })();
  return pending;
}

/** Whether the WebAssembly kernels are in use, and why not when they are not. */
export function wasmStatus(): { enabled: boolean; reason: string } {
  const r = wasmRuntime();
  return { enabled: r !== null, reason: r ? "" : disabledReason };
}
