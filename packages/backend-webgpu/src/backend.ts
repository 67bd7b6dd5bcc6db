import type {
  Backend,
  DType,
  FusedExpr,
  FusedKernel,
  IndexCheck,
  KernelTable,
  TensorInfo,
  TypedArray,
} from "@minibatch/tensor";
import {
  decodeIndexError,
  INDEX_CHECK_SRC,
  INDEX_ERROR_BYTES,
  IndexCheckLog,
  indexCheckParams,
} from "./index-checks";
import { fusedKernel, KERNELS, type MatmulTile } from "./kernels";

// WebGPU's numeric flags, spelled out so that nothing depends on the host installing the
// GPUBufferUsage / GPUMapMode / GPUShaderStage globals.
const MAP_READ = 0x1;
const COPY_SRC = 0x4;
const COPY_DST = 0x8;
const UNIFORM = 0x40;
const STORAGE = 0x80;
const MODE_READ = 0x1;
const STAGE_COMPUTE = 0x4;

/** Bytes of kernel parameters per dispatch: 64 x i32, also the largest uniform offset alignment. */
export const PARAM_SLOT = 256;
/** Dispatches encoded before the batch is submitted without waiting for a read. */
const MAX_BATCH = 64;
/** Per-batch upload arena: parameter slots plus small `write`s, copied on the GPU timeline. */
const ARENA_BYTES = MAX_BATCH * PARAM_SLOT + 48 * 1024;
/** Writes larger than this get their own staging buffer. */
const LARGE_WRITE = 16 * 1024;
/** Freed buffers kept for reuse, at most this many bytes; beyond it they are destroyed. */
const POOL_LIMIT = 512 * 1024 * 1024;

/** A tensor buffer on the GPU. Every dtype takes 4 bytes per element (bool as u32 0/1). */
export class GPUData {
  freed = false;
  constructor(
    readonly buffer: GPUBuffer,
    /** Bytes of the buffer (its pool bucket), at least 4. */
    readonly bytes: number,
    readonly size: number,
    readonly dtype: DType,
  ) {}
}

export interface WebGPUInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
}

interface IndexErrorCapture {
  /** The error of the first failed check among those captured, or null. */
  error(): Promise<Error | null>;
  discard(): void;
}

interface Pipeline {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

/** The pool bucket for a byte size: powers of two split into quarters (at most 25% waste). */
export function bucketBytes(bytes: number): number {
  const b = Math.max(16, Math.ceil(bytes / 4) * 4);
  if (b <= 256) return Math.ceil(b / 16) * 16;
  const p = 2 ** Math.floor(Math.log2(b));
  const quarter = p / 4;
  return Math.ceil(b / quarter) * quarter;
}

/**
 * The WebGPU backend. Kernels are WGSL compute shaders; their dispatches are encoded into one
 * command encoder and submitted in batches (every MAX_BATCH dispatches, and before a read).
 * Everything that touches a buffer (kernels, writes, reads) goes through the encoder in program
 * order, which is what makes reusing pooled buffers safe without waiting for the GPU.
 */
export class WebGPUBackend implements Backend {
  readonly name = "webgpu";
  readonly kernels: KernelTable<WebGPUBackend> = KERNELS;
  readonly info: WebGPUInfo;

  private readonly device: GPUDevice;
  // Dawn (Node) tears its instance down once the GPU object is unreachable; the backend holds it.
  // biome-ignore lint/correctness/noUnusedPrivateClassMembers: held only to keep it alive
  private gpu: GPU | null;
  private readonly pool = new Map<number, GPUBuffer[]>();
  private pooledBytes = 0;
  private liveBuffers = 0;
  private liveBytes = 0;
  private readonly pipelines = new Map<string, Pipeline>();
  private readonly pending = new Map<string, Promise<void>>();
  private readonly layouts = new Map<string, GPUBindGroupLayout>();

  // The open batch.
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private arena: GPUBuffer | null = null;
  private arenaMap: ArrayBuffer | null = null;
  private arenaUsed = 0;
  private dispatches = 0;
  /** Inside a compiled step's replay: its dispatches stay in one command buffer (see runProgram). */
  private inProgram = false;
  private readonly staging: GPUBuffer[] = [];

  // Errors: error scopes wrap each batch; their results land here and surface on read/sync.
  private readonly scopeChecks: Promise<void>[] = [];
  private error: Error | null = null;
  private lostError: Error | null = null;
  private disposed = false;
  // Index checks (see index-checks.ts): the device error record and the checks not yet read out.
  private indexRecord: GPUData | null = null;
  private readonly indexChecks = new IndexCheckLog();

  /** Seen by the engine: a lost device is replaced on the next `setBackend('webgpu')`. */
  get lost(): boolean {
    return this.lostError !== null;
  }

  /**
   * Matmul kernel: "large" (64x64 tiles, 4x4 outputs per thread) for hardware GPUs, "small" (4x4
   * outputs per thread with no workgroup memory) for software adapters, whose shader compiler is
   * slow on the large one and whose workgroup barriers are costly.
   */
  matmulTile: MatmulTile;

  /**
   * A software adapter (SwiftShader, llvmpipe, ...): short reductions then run one thread per
   * output, with no workgroup barrier (see reduceLanes in kernels.ts).
   */
  readonly software: boolean;

  /** Dispatches submitted so far (for tests and profiling). */
  stats = { dispatches: 0, submits: 0, pipelines: 0 };

  constructor(device: GPUDevice, info: WebGPUInfo, gpu: GPU | null = null) {
    this.device = device;
    this.info = info;
    this.gpu = gpu;
    const software =
      info.isFallbackAdapter ||
      /swiftshader|llvmpipe|lavapipe/i.test(`${info.architecture} ${info.description}`);
    this.software = software;
    this.matmulTile = software ? "small" : "large";
    device.lost.then((lost) => {
      if (this.disposed) return;
      this.lostError = new Error(
        `minibatch webgpu: the GPU device was lost (${lost.reason || "unknown"}): ${lost.message}. ` +
          "Tensors on it are gone; create the backend again (a driver reset or running out of GPU memory can cause this).",
      );
    });
    device.addEventListener("uncapturederror", (ev) => {
      this.recordError((ev as GPUUncapturedErrorEvent).error);
    });
  }

  // ---- memory -----------------------------------------------------------------------------------

  alloc(size: number, dtype: DType): GPUData {
    this.assertUsable("alloc");
    const need = Math.max(4, size * 4);
    const limit = Math.min(this.device.limits.maxBufferSize, this.device.limits.maxStorageBufferBindingSize);
    if (need > limit) {
      throw new Error(
        `minibatch webgpu: a tensor of ${size} elements (${need} bytes) exceeds this device's buffer limit of ${limit} bytes`,
      );
    }
    const bytes = bucketBytes(need);
    let buffer = this.pool.get(bytes)?.pop();
    if (buffer) {
      this.pooledBytes -= bytes;
    } else {
      this.beginBatch();
      buffer = this.device.createBuffer({ size: bytes, usage: STORAGE | COPY_SRC | COPY_DST });
    }
    this.liveBuffers++;
    this.liveBytes += bytes;
    return new GPUData(buffer, bytes, size, dtype);
  }

  free(id: object): void {
    const d = id as GPUData;
    if (d.freed) return;
    d.freed = true;
    this.liveBuffers--;
    this.liveBytes -= d.bytes;
    if (this.pooledBytes + d.bytes > POOL_LIMIT || this.disposed) {
      // Destroy is deferred by WebGPU until queued work that uses the buffer is done.
      this.flush();
      d.buffer.destroy();
      return;
    }
    let list = this.pool.get(d.bytes);
    if (!list) {
      list = [];
      this.pool.set(d.bytes, list);
    }
    list.push(d.buffer);
    this.pooledBytes += d.bytes;
  }

  memory(): { buffers: number; bytes: number } {
    return { buffers: this.liveBuffers, bytes: this.liveBytes };
  }

  /** Buffers kept for reuse (not counted by `memory()`). */
  poolInfo(): { buffers: number; bytes: number } {
    let buffers = 0;
    for (const l of this.pool.values()) buffers += l.length;
    return { buffers, bytes: this.pooledBytes };
  }

  // ---- data in and out --------------------------------------------------------------------------

  write(id: object, values: TypedArray): void {
    this.assertUsable("write");
    const d = id as GPUData;
    if (values.length !== d.size) {
      throw new Error(`webgpu.write: expected ${d.size} values, got ${values.length}`);
    }
    if (d.size === 0) return;
    const src = values instanceof Uint8Array ? Uint32Array.from(values) : values;
    const bytes = new Uint8Array(src.buffer, src.byteOffset, d.size * 4);
    this.beginBatch();
    this.endPass();
    if (bytes.byteLength > LARGE_WRITE) {
      const stage = this.device.createBuffer({
        size: bytes.byteLength,
        usage: COPY_SRC,
        mappedAtCreation: true,
      });
      new Uint8Array(stage.getMappedRange()).set(bytes);
      this.staging.push(stage);
      this.encoder!.copyBufferToBuffer(stage, 0, d.buffer, 0, bytes.byteLength);
      return;
    }
    const off = this.arenaAlloc(bytes.byteLength, 4);
    new Uint8Array(this.arenaMap!, off, bytes.byteLength).set(bytes);
    this.encoder!.copyBufferToBuffer(this.arena!, off, d.buffer, 0, bytes.byteLength);
  }

  async read(id: object, size: number, dtype: DType): Promise<TypedArray> {
    this.assertUsable("read");
    const d = id as GPUData;
    if (size === 0) {
      await this.sync();
      return dtype === "float32"
        ? new Float32Array(0)
        : dtype === "int32"
          ? new Int32Array(0)
          : new Uint8Array(0);
    }
    const bytes = size * 4;
    this.beginBatch();
    this.endPass();
    const stage = this.device.createBuffer({ size: bytes, usage: MAP_READ | COPY_DST });
    this.encoder!.copyBufferToBuffer(d.buffer, 0, stage, 0, bytes);
    const indexErrors = this.captureIndexErrors();
    this.flush();
    try {
      await stage.mapAsync(MODE_READ);
    } catch (e) {
      indexErrors?.discard();
      await this.checkErrors();
      throw new Error(`minibatch webgpu: reading a buffer failed: ${(e as Error).message}`);
    }
    const raw = stage.getMappedRange().slice(0);
    stage.unmap();
    stage.destroy();
    await this.settle(indexErrors);
    if (dtype === "float32") return new Float32Array(raw);
    if (dtype === "int32") return new Int32Array(raw);
    return Uint8Array.from(new Uint32Array(raw));
  }

  /** Submits queued work, waits for the GPU, and throws any device error since the last check. */
  async sync(): Promise<void> {
    this.assertUsable("sync");
    const indexErrors = this.captureIndexErrors();
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    await this.settle(indexErrors);
  }

  /**
   * Queues an index check (the core's `checkIndices`): a failure is recorded on the device and
   * thrown by the next `read` or `sync`, with the message the CPU throws at once.
   */
  checkIndices(indices: TensorInfo, check: IndexCheck): void {
    this.assertUsable("checkIndices");
    if (indices.size === 0) return;
    if (!this.indexRecord) {
      this.beginBatch();
      // Zero-filled at creation: no failure recorded. Internal, so not counted by memory().
      const buffer = this.device.createBuffer({
        size: INDEX_ERROR_BYTES,
        usage: STORAGE | COPY_SRC | COPY_DST,
      });
      this.indexRecord = new GPUData(buffer, INDEX_ERROR_BYTES, INDEX_ERROR_BYTES / 4, "int32");
    }
    const id = this.indexChecks.add(check, indices.shape);
    const params = indexCheckParams(indices.size, check, id);
    this.dispatch(
      "indexCheck",
      () => INDEX_CHECK_SRC,
      [indices.dataId as GPUData],
      [this.indexRecord],
      params,
      [1],
    );
  }

  dispose(): void {
    if (this.disposed) return;
    this.flush();
    this.disposed = true;
    const buffers = [...this.pool.values()].flat();
    this.pool.clear();
    this.pooledBytes = 0;
    const device = this.device;
    // Destroy only once the queue is idle: destroying a device while a software driver's threads
    // still run its work has crashed the process (SwiftShader, under load).
    const record = this.indexRecord;
    this.indexRecord = null;
    this.indexChecks.clear();
    const destroy = () => {
      for (const b of buffers) b.destroy();
      record?.buffer.destroy();
      device.destroy();
    };
    if (this.lostError) destroy();
    else device.queue.onSubmittedWorkDone().then(destroy, destroy);
    this.gpu = null;
  }

  // ---- errors -----------------------------------------------------------------------------------

  private recordError(e: GPUError | Error): void {
    if (this.error) return;
    const kind =
      typeof GPUOutOfMemoryError !== "undefined" && e instanceof GPUOutOfMemoryError
        ? "out of GPU memory"
        : "device error";
    this.error = new Error(`minibatch webgpu: ${kind}: ${e.message}`);
  }

  private async checkErrors(): Promise<void> {
    const checks = this.scopeChecks.splice(0);
    await Promise.all(checks);
    if (this.lostError) throw this.lostError;
    if (this.error) {
      const e = this.error;
      this.error = null;
      throw e;
    }
  }

  /**
   * Copies the index-error record out and clears it at this point of the command stream, so it
   * holds the outcome of every check queued so far and later checks start from a clean record.
   */
  private captureIndexErrors(): IndexErrorCapture | null {
    if (this.indexChecks.size === 0 || !this.indexRecord) return null;
    const taken = this.indexChecks.take();
    this.beginBatch();
    this.endPass();
    const stage = this.device.createBuffer({ size: INDEX_ERROR_BYTES, usage: MAP_READ | COPY_DST });
    this.encoder!.copyBufferToBuffer(this.indexRecord.buffer, 0, stage, 0, INDEX_ERROR_BYTES);
    this.encoder!.clearBuffer(this.indexRecord.buffer, 0, INDEX_ERROR_BYTES);
    return {
      discard: () => stage.destroy(),
      error: async () => {
        try {
          await stage.mapAsync(MODE_READ);
          const record = new Uint32Array(stage.getMappedRange().slice(0));
          stage.unmap();
          return decodeIndexError(record, taken);
        } catch (e) {
          return (
            this.lostError ??
            new Error(`minibatch webgpu: reading the index checks failed: ${(e as Error).message}`)
          );
        } finally {
          stage.destroy();
        }
      },
    };
  }

  /** Device errors first (they can explain the rest), then a failed index check. */
  private async settle(indexErrors: IndexErrorCapture | null): Promise<void> {
    try {
      await this.checkErrors();
    } catch (e) {
      indexErrors?.discard();
      throw e;
    }
    const err = await indexErrors?.error();
    if (err) throw err;
  }

  private assertUsable(op: string): void {
    if (this.lostError) throw this.lostError;
    if (this.disposed) throw new Error(`minibatch webgpu: ${op} on a disposed backend`);
  }

  // ---- batching ---------------------------------------------------------------------------------

  private beginBatch(): void {
    if (this.encoder) return;
    // Every device call of the batch (buffer creation, pipelines, encoding, submit) is inside
    // these scopes, so a failure is attributed here rather than lost.
    this.device.pushErrorScope("out-of-memory");
    this.device.pushErrorScope("validation");
    this.device.pushErrorScope("internal");
    this.encoder = this.device.createCommandEncoder();
  }

  private endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }

  private arenaAlloc(bytes: number, align: number): number {
    let off = Math.ceil(this.arenaUsed / align) * align;
    if (this.arena && off + bytes > ARENA_BYTES) {
      this.flush();
      this.beginBatch();
      off = 0;
    }
    if (!this.arena) {
      this.arena = this.device.createBuffer({
        size: ARENA_BYTES,
        usage: UNIFORM | COPY_SRC,
        mappedAtCreation: true,
      });
      this.arenaMap = this.arena.getMappedRange();
      off = 0;
    }
    this.arenaUsed = off + bytes;
    return off;
  }

  /** A chain of elementwise ops of a compiled step as one shader (one dispatch instead of several). */
  fuseElementwise(expr: FusedExpr): FusedKernel | null {
    return fusedKernel(this, expr, this.device.limits.maxStorageBuffersPerShaderStage);
  }

  /**
   * A compiled step's launches go into one command buffer, without the MAX_BATCH cut inside it.
   * Steps smaller than MAX_BATCH dispatches share a submit with the following ones until there
   * are MAX_BATCH of them or a value is read; a larger step is submitted when it ends, so the
   * device starts on it while the next one is encoded.
   */
  runProgram(replay: () => void): void {
    const outer = this.inProgram;
    this.inProgram = true;
    try {
      replay();
    } finally {
      this.inProgram = outer;
    }
    if (!outer && this.dispatches >= MAX_BATCH) this.flush();
  }

  /** Submits the open batch, if any. */
  flush(): void {
    if (!this.encoder) return;
    this.endPass();
    const cmd = this.encoder.finish();
    this.arena?.unmap();
    for (const s of this.staging) s.unmap();
    this.device.queue.submit([cmd]);
    this.arena?.destroy();
    for (const s of this.staging) s.destroy();
    this.staging.length = 0;
    this.encoder = null;
    this.arena = null;
    this.arenaMap = null;
    this.arenaUsed = 0;
    this.dispatches = 0;
    this.stats.submits++;
    const scopes = [this.device.popErrorScope(), this.device.popErrorScope(), this.device.popErrorScope()];
    this.scopeChecks.push(
      Promise.all(scopes).then(
        (errs) => {
          for (const e of errs) if (e) this.recordError(e);
        },
        (e) => this.recordError(e as Error),
      ),
    );
  }

  // ---- pipelines and dispatch -------------------------------------------------------------------

  private layout(nIn: number, nOut: number): GPUBindGroupLayout {
    const key = `${nIn}:${nOut}`;
    let l = this.layouts.get(key);
    if (!l) {
      const entries: GPUBindGroupLayoutEntry[] = [
        { binding: 0, visibility: STAGE_COMPUTE, buffer: { type: "uniform" } },
      ];
      for (let i = 0; i < nIn + nOut; i++) {
        entries.push({
          binding: i + 1,
          visibility: STAGE_COMPUTE,
          buffer: { type: i < nIn ? "read-only-storage" : "storage" },
        });
      }
      l = this.device.createBindGroupLayout({ entries });
      this.layouts.set(key, l);
    }
    return l;
  }

  private descriptor(code: string, nIn: number, nOut: number, key: string): GPUComputePipelineDescriptor {
    const layout = this.layout(nIn, nOut);
    return {
      label: key,
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module: this.device.createShaderModule({ code, label: key }), entryPoint: "main" },
    };
  }

  /** Compiles a pipeline in the background (createComputePipelineAsync) so a later kernel finds it. */
  precompile(key: string, nIn: number, nOut: number, source: () => string): Promise<void> {
    if (this.pipelines.has(key)) return Promise.resolve();
    let p = this.pending.get(key);
    if (!p) {
      p = this.device
        .createComputePipelineAsync(this.descriptor(source(), nIn, nOut, key))
        .then((pipeline) => {
          if (!this.pipelines.has(key)) {
            this.pipelines.set(key, { pipeline, layout: this.layout(nIn, nOut) });
            this.stats.pipelines++;
          }
          this.pending.delete(key);
        });
      this.pending.set(key, p);
    }
    return p;
  }

  private pipeline(key: string, nIn: number, nOut: number, source: () => string): Pipeline {
    let p = this.pipelines.get(key);
    if (!p) {
      // Kernels run synchronously, so a cache miss compiles synchronously.
      p = {
        pipeline: this.device.createComputePipeline(this.descriptor(source(), nIn, nOut, key)),
        layout: this.layout(nIn, nOut),
      };
      this.pipelines.set(key, p);
      this.stats.pipelines++;
    }
    return p;
  }

  /**
   * Encodes one dispatch. `key` names the compiled pipeline (it must determine `source`); the
   * parameters (at most 64 i32, floats bit-cast) go to binding 0, then inputs, then outputs.
   */
  dispatch(
    key: string,
    source: () => string,
    inputs: readonly GPUData[],
    outputs: readonly GPUData[],
    params: ArrayLike<number>,
    groups: readonly [number, number?, number?],
  ): void {
    this.assertUsable(key);
    const [gx, gy = 1, gz = 1] = groups;
    if (gx === 0 || gy === 0 || gz === 0) return;
    const max = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (gx > max || gy > max || gz > max) {
      throw new Error(
        `minibatch webgpu: ${key} needs a grid of ${gx}x${gy}x${gz} workgroups, over the limit of ${max}`,
      );
    }
    if (params.length > PARAM_SLOT / 4) throw new Error(`internal: ${key} has ${params.length} parameters`);
    this.beginBatch();
    const p = this.pipeline(key, inputs.length, outputs.length, source);
    const off = this.arenaAlloc(PARAM_SLOT, PARAM_SLOT);
    new Int32Array(this.arenaMap!, off, params.length).set(params);
    const entries: GPUBindGroupEntry[] = [
      { binding: 0, resource: { buffer: this.arena!, offset: off, size: PARAM_SLOT } },
    ];
    let binding = 1;
    for (const d of [...inputs, ...outputs]) {
      entries.push({ binding: binding++, resource: { buffer: d.buffer } });
    }
    const group = this.device.createBindGroup({ layout: p.layout, entries });
    if (!this.pass) this.pass = this.encoder!.beginComputePass();
    this.pass.setPipeline(p.pipeline);
    this.pass.setBindGroup(0, group);
    this.pass.dispatchWorkgroups(gx, gy, gz);
    this.stats.dispatches++;
    if (++this.dispatches >= MAX_BATCH && !this.inProgram) this.flush();
  }

  /** The largest workgroup count along one grid dimension. */
  get maxGroups(): number {
    return this.device.limits.maxComputeWorkgroupsPerDimension;
  }
}
