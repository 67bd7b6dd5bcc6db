import {
  allocArray,
  type Backend,
  BYTES_PER_ELEMENT,
  type DType,
  type FusedExpr,
  type FusedKernel,
  type KernelTable,
  type TensorInfo,
  type TypedArray,
} from "@minibatch/tensor";
import { KERNELS } from "./kernels";
import { fuseElementwiseCpu } from "./kernels/fused";
import { wasmRuntime } from "./wasm/runtime";

/**
 * A CPU buffer: the typed array is the storage itself. Float32 buffers of at least
 * `RESIDENT_MIN_SIZE` values live in WebAssembly memory where the wasm kernels run (`ptr` is then
 * their byte offset there, else -1), so those kernels work in place instead of copying. Such a
 * `values` view is replaced when that memory grows: hold it only while no tensor is allocated.
 */
export interface CpuData {
  values: TypedArray;
  dtype: DType;
  size: number;
  ptr: number;
}

/** Below this, copying into wasm memory is cheaper than the bookkeeping of a heap block. */
export const RESIDENT_MIN_SIZE = 64;

const EMPTY = new Float32Array(0);

/**
 * Freed wasm-resident buffers kept for reuse, at most this many bytes. A training loop frees and
 * allocates the same sizes every step; taking a block of the exact size back from this cache skips
 * the heap's bookkeeping and the creation of a new array view, most of the cost of an allocation.
 */
const CACHE_LIMIT = 64 * 1024 * 1024;
/** How many freed small arrays are kept for reuse. */
const SMALL_CACHE = 4096;

function poisonRequested(): boolean {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  return env?.MINIBATCH_CPU_POISON === "1";
}

export class CpuBackend implements Backend {
  readonly name = "cpu";
  readonly kernels: KernelTable<CpuBackend> = KERNELS;
  private live = 0;
  private liveBytes = 0;
  private readonly cache = new Map<number, CpuData[]>();
  private cachedBytes = 0;
  /**
   * Freed small arrays (below RESIDENT_MIN_SIZE: scalars, bias-sized rows), reused by dtype and
   * length: a training step frees and makes the same ones every step, and reusing them spares the
   * garbage collector. At most SMALL_CACHE of them are kept.
   */
  private readonly small: Record<DType, Map<number, TypedArray[]>> = {
    float32: new Map(),
    int32: new Map(),
    bool: new Map(),
  };
  private smallCount = 0;

  /**
   * Tests set MINIBATCH_CPU_POISON=1 to fill every new buffer with NaN (or -1 for integers): a
   * reused heap block holds old values, so a kernel must write every output element.
   */
  private readonly poison = poisonRequested();

  alloc(size: number, dtype: DType): CpuData {
    this.live++;
    this.liveBytes += size * BYTES_PER_ELEMENT[dtype];
    const cached = dtype === "float32" ? this.cache.get(size)?.pop() : undefined;
    if (cached) {
      this.cachedBytes -= size * 4;
      if (this.poison) cached.values.fill(Number.NaN);
      return cached;
    }
    if (size < RESIDENT_MIN_SIZE) {
      const values = this.small[dtype].get(size)?.pop();
      if (values) {
        this.smallCount--;
        if (this.poison) values.fill(dtype === "float32" ? Number.NaN : -1);
        return { values, dtype, size, ptr: -1 };
      }
    }
    const d: CpuData = { values: EMPTY, dtype, size, ptr: -1 };
    const w = dtype === "float32" && size >= RESIDENT_MIN_SIZE ? wasmRuntime() : null;
    if (!w?.makeResident(d)) d.values = allocArray(dtype, size);
    if (this.poison) d.values.fill(dtype === "float32" ? Number.NaN : -1);
    return d;
  }

  write(id: object, values: TypedArray): void {
    const d = id as CpuData;
    if (values.length !== d.values.length) {
      throw new Error(`cpu.write: expected ${d.values.length} values, got ${values.length}`);
    }
    d.values.set(values);
  }

  read(id: object): Promise<TypedArray> {
    return Promise.resolve((id as CpuData).values.slice());
  }

  readSync(id: object): TypedArray {
    return (id as CpuData).values.slice();
  }

  free(id: object): void {
    const d = id as CpuData;
    this.live--;
    this.liveBytes -= d.size * BYTES_PER_ELEMENT[d.dtype];
    if (d.ptr < 0) {
      if (d.size < RESIDENT_MIN_SIZE && d.size > 0 && this.smallCount < SMALL_CACHE) {
        const list = this.small[d.dtype].get(d.size) ?? [];
        list.push(d.values);
        this.small[d.dtype].set(d.size, list);
        this.smallCount++;
      }
      d.values = EMPTY;
      return;
    }
    if (this.cachedBytes + d.size * 4 <= CACHE_LIMIT) {
      // A new object for the cached block: the freed id may still be held (a disposed tensor).
      const list = this.cache.get(d.size) ?? [];
      list.push({ values: d.values, dtype: d.dtype, size: d.size, ptr: d.ptr });
      this.cache.set(d.size, list);
      this.cachedBytes += d.size * 4;
      wasmRuntime()?.moveResident(d, list[list.length - 1]);
      d.ptr = -1;
      d.values = EMPTY;
      return;
    }
    wasmRuntime()?.freeResident(d);
  }

  /** A chain of elementwise ops of a compiled step as one generated wasm SIMD kernel. */
  fuseElementwise(expr: FusedExpr): FusedKernel | null {
    // Below the size kept in wasm memory, the operands are plain arrays: the ops run one by one.
    if (expr.size < RESIDENT_MIN_SIZE) return null;
    return fuseElementwiseCpu(expr);
  }

  /**
   * Gives the blocks of freed tensors kept for reuse back to the wasm heap (PyTorch's
   * `torch.cuda.empty_cache()`). Live tensors are untouched; WebAssembly memory never shrinks, but
   * the heap can then serve other sizes from it.
   */
  emptyCache(): void {
    const w = wasmRuntime();
    for (const list of this.cache.values()) for (const d of list) w?.freeResident(d);
    this.cache.clear();
    this.cachedBytes = 0;
  }

  memory(): { buffers: number; bytes: number } {
    return { buffers: this.live, bytes: this.liveBytes };
  }
}

/** The storage of a tensor on this backend (no copy). */
export function buf<T extends TypedArray = Float32Array>(t: TensorInfo): T {
  return (t.dataId as CpuData).values as T;
}
