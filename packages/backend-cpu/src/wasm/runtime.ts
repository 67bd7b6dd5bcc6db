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
}

function decodeBase64(s: string): Uint8Array<ArrayBuffer> {
  const B = (globalThis as { Buffer?: { from(s: string, enc: string): Uint8Array } }).Buffer;
  if (B) return new Uint8Array(B.from(s, "base64"));
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * The wasm kernels with a bump allocator over their linear memory. Each kernel call resets the
 * allocator, copies its inputs in, runs and copies its outputs out, so nothing outside a call
 * points into this memory: growing it (which detaches old views) is safe between calls.
 */
export class WasmRuntime {
  readonly exports: WasmKernels;
  private f32: Float32Array;
  private top = 0;
  private readonly base: number;

  constructor(instance: WebAssembly.Instance) {
    this.exports = instance.exports as unknown as WasmKernels;
    // 16-byte aligned so v128 loads of whole rows are aligned where the shapes allow.
    this.base = (this.exports.heapBase() + 15) & ~15;
    this.f32 = new Float32Array(this.exports.memory.buffer);
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
    this.reset();
    const n = 48;
    const a = this.alloc(n * n * 4);
    const b = this.alloc(n * n * 4);
    const c = this.alloc(n * n * 4);
    const g = this.alloc(n * 4);
    const stats = this.alloc(n * 4 * 5);
    const scratch = this.alloc(e.gemmScratchBytes());
    const f = this.view();
    f.fill(0.5, a >> 2, (a >> 2) + 2 * n * n);
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
  }

  /** Starts a kernel call: frees everything the previous call allocated. */
  reset(): void {
    this.top = this.base;
  }

  /** Reserves `bytes` (16-byte aligned) and returns the byte offset; grows memory when needed. */
  alloc(bytes: number): number {
    const p = this.top;
    this.top = (p + bytes + 15) & ~15;
    const mem = this.exports.memory;
    if (this.top > mem.buffer.byteLength) {
      const pages = Math.ceil((this.top - mem.buffer.byteLength) / 65536);
      mem.grow(pages);
    }
    return p;
  }

  /** A float32 view of the whole memory, recreated after growth detached the old one. */
  view(): Float32Array {
    if (this.f32.buffer !== this.exports.memory.buffer)
      this.f32 = new Float32Array(this.exports.memory.buffer);
    return this.f32;
  }

  /** Allocates room for `src` and copies it in. */
  put(src: Float32Array): number {
    const p = this.alloc(src.length * 4);
    this.view().set(src, p >> 2);
    return p;
  }

  /** Copies `dst.length` floats at byte offset `p` out into `dst`. */
  get(p: number, dst: Float32Array): void {
    const v = this.view();
    dst.set(v.subarray(p >> 2, (p >> 2) + dst.length));
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
