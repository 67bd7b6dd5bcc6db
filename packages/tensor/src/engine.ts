import type { Backend, DataId, OpAttrs, OpName, TensorInfo } from "./backend";
import { traceFree, traceLaunch, tracing } from "./compile/trace";
import { BYTES_PER_ELEMENT, type DType } from "./dtype";
import { type Shape, sizeOf } from "./shape";
import { claimSingleton, DOCS } from "./singleton";
import { Tensor } from "./tensor";

type BackendFactory = () => Backend | Promise<Backend>;

interface BufferRecord {
  backend: Backend;
  refs: number;
  bytes: number;
}

/**
 * The state of this copy of the package: backends, scopes and memory accounting. It is private to
 * the module (not exported from the package); the package ships one module format, and
 * singleton.ts makes a second copy of the package fail when it loads.
 */
export class Engine {
  readonly factories = new Map<string, { factory: BackendFactory; priority: number }>();
  readonly backends = new Map<string, Backend>();
  active: Backend | null = null;
  gradEnabled = true;
  readonly scopes: Set<Tensor>[] = [];
  readonly buffers = new Map<DataId, BufferRecord>();
  liveTensors = 0;
  nextId = 0;
  /** Bytes of live buffers now, and the most since the last `resetPeakMemory()`. */
  liveBytes = 0;
  peakBytes = 0;

  registerBackend(name: string, factory: BackendFactory, priority = 1): void {
    this.factories.set(name, { factory, priority });
  }

  async setBackend(name: string): Promise<Backend> {
    let b = this.backends.get(name);
    if (b?.lost) {
      // A lost device cannot come back: drop it so that a fresh one is created.
      this.backends.delete(name);
      if (this.active === b) this.active = null;
      b = undefined;
    }
    if (!b) {
      const entry = this.factories.get(name);
      if (!entry) {
        throw new Error(
          `setBackend: no backend named '${name}' is registered (registered: ${[...this.factories.keys()].join(", ") || "none"}); import '@minibatch/backend-${name}' first`,
        );
      }
      b = await entry.factory();
      this.backends.set(name, b);
    }
    this.active = b;
    return b;
  }

  /** The active backend; the first synchronous backend registered becomes active on first use. */
  backend(): Backend {
    if (this.active) return this.active;
    const sorted = [...this.factories.entries()].sort((a, b) => b[1].priority - a[1].priority);
    for (const [name, { factory }] of sorted) {
      const b = this.backends.get(name) ?? factory();
      if (b instanceof Promise) continue;
      this.backends.set(name, b);
      this.active = b;
      return b;
    }
    throw new Error(
      `minibatch: no backend is available. Import '@minibatch/backend-cpu' (synchronous) or call \`await setBackend('webgpu')\` after importing '@minibatch/backend-webgpu' (see ${DOCS}/backends.md).`,
    );
  }

  getBackendByName(name: string): Backend | undefined {
    return this.backends.get(name);
  }

  // ---- buffers ---------------------------------------------------------------------------------

  alloc(backend: Backend, shape: Shape, dtype: DType): DataId {
    const size = sizeOf(shape);
    if (!Number.isSafeInteger(size) || size < 0) {
      // The ops validate their arguments first; this keeps memory accounting sound if one does not.
      throw new Error(`internal: cannot allocate a tensor of shape [${shape.join(", ")}]`);
    }
    const id = backend.alloc(size, dtype);
    const bytes = size * BYTES_PER_ELEMENT[dtype];
    this.buffers.set(id, { backend, refs: 1, bytes });
    this.liveBytes += bytes;
    if (this.liveBytes > this.peakBytes) this.peakBytes = this.liveBytes;
    return id;
  }

  incRef(id: DataId): void {
    const r = this.buffers.get(id);
    if (!r) throw new Error("internal: incRef of an unknown buffer");
    r.refs++;
  }

  decRef(id: DataId): void {
    const r = this.buffers.get(id);
    if (!r) return;
    if (--r.refs === 0) {
      this.buffers.delete(id);
      this.liveBytes -= r.bytes;
      if (tracing()) traceFree(id);
      r.backend.free(id);
    }
  }

  // ---- tensors and scopes ----------------------------------------------------------------------

  track(t: Tensor): void {
    this.liveTensors++;
    const top = this.scopes[this.scopes.length - 1];
    if (top) {
      top.add(t);
      t._scope = top;
    }
  }

  /** Takes `t` out of the scope that holds it (a tensor is in at most one: see `tidy`). */
  untrack(t: Tensor): void {
    const s = t._scope;
    if (s) {
      s.delete(t);
      t._scope = null;
    }
  }

  /** Runs a kernel on the inputs' backend, allocating outputs with the given shapes and dtypes. */
  run<K extends OpName>(
    op: K,
    inputs: readonly Tensor[],
    outputs: readonly { shape: Shape; dtype: DType }[],
    attrs: OpAttrs[K],
    backend?: Backend,
  ): Tensor[] {
    const b = backend ?? inputs[0]?.backend ?? this.backend();
    for (let i = 0; i < inputs.length; i++) {
      const t = inputs[i];
      t.assertAlive(op);
      if (t.backend !== b) {
        throw new Error(
          `${op}: all inputs must live on one backend, got '${b.name}' and '${t.backend.name}'; move one with t.to('${b.name}')`,
        );
      }
    }
    const kernel = b.kernels[op] as
      | ((b: Backend, i: readonly TensorInfo[], o: readonly TensorInfo[], a: OpAttrs[K]) => void)
      | undefined;
    if (!kernel) throw new Error(`${op}: the '${b.name}' backend has no kernel for this op`);
    const outs = outputs.map((o) => new Tensor(this.alloc(b, o.shape, o.dtype), o.shape, o.dtype, b));
    try {
      kernel(b, inputs, outs, attrs);
    } catch (e) {
      // A kernel that throws (a guard, a device error) must not leave its outputs allocated.
      for (const t of outs) t.dispose();
      throw e;
    }
    if (tracing()) traceLaunch(op, b, kernel as never, inputs, outs, attrs as never);
    return outs;
  }

  memory(): MemoryInfo {
    const perBackend: Record<string, { buffers: number; bytes: number }> = {};
    let bytes = 0;
    for (const r of this.buffers.values()) {
      const e = (perBackend[r.backend.name] ??= { buffers: 0, bytes: 0 });
      e.buffers++;
      e.bytes += r.bytes;
      bytes += r.bytes;
    }
    return {
      tensors: this.liveTensors,
      buffers: this.buffers.size,
      bytes,
      peakBytes: this.peakBytes,
      backends: perBackend,
    };
  }
}

export interface MemoryInfo {
  /** Tensor objects created and not yet disposed. */
  tensors: number;
  /** Distinct buffers alive (views such as reshape share one). */
  buffers: number;
  bytes: number;
  /** The most bytes live at once since the process started or `resetPeakMemory()` (PyTorch's `max_memory_allocated`). */
  peakBytes: number;
  backends: Record<string, { buffers: number; bytes: number }>;
}

claimSingleton();
export const ENGINE: Engine = new Engine();

/** Registers a backend under a name. `priority` picks the default among synchronous backends. */
export function registerBackend(name: string, factory: BackendFactory, priority = 1): void {
  ENGINE.registerBackend(name, factory, priority);
}
/** Makes a backend active for new tensors; asynchronous because a GPU backend must find an adapter. */
export function setBackend(name: "cpu" | "webgpu" | (string & {})): Promise<Backend> {
  return ENGINE.setBackend(name);
}
export function getBackend(): Backend {
  return ENGINE.backend();
}
export function memory(): MemoryInfo {
  return ENGINE.memory();
}
/** Starts measuring `memory().peakBytes` again from the bytes live now (PyTorch's `reset_peak_memory_stats`). */
export function resetPeakMemory(): void {
  ENGINE.peakBytes = ENGINE.liveBytes;
}
