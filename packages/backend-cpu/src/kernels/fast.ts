import type { Kernel, TensorInfo } from "@minibatch/tensor";
import type { CpuBackend, CpuData } from "../backend";
import { type WasmRuntime, wasmRuntime } from "../wasm/runtime";
import { batchNormGradKernel, batchNormTrainKernel } from "./batchnorm";
import { matmulKernel } from "./matmul";

// Kernels that run in WebAssembly SIMD when it is available and fall back to the TypeScript
// kernels (the reference in tests) otherwise. Large float32 buffers already live in wasm memory
// and are used in place; small ones (and any made before the module loaded) are copied into
// temporary blocks and, for outputs, copied back.
//
// Order matters: taking a pointer may grow wasm memory, which replaces every resident view. So a
// kernel first takes all its pointers, then runs, then copies non-resident outputs back.

export const data = (t: TensorInfo) => t.dataId as CpuData;

/**
 * Takes a kernel's pointers; null when wasm memory is full (past wasm32's 4 GiB), after freeing
 * what was taken: tensors past that point are ordinary arrays, and their kernels then run in
 * TypeScript instead of failing to copy them in.
 */
export function pointers<T>(w: WasmRuntime, take: () => T): T | null {
  try {
    return take();
  } catch (e) {
    if (outOfMemory(w, e)) return null;
    throw e;
  }
}

/**
 * The byte offsets a kernel passes to wasm, in one array: a scratch block of `scratchBytes` (when
 * above 0), each input (see `WasmRuntime.input`), then each output (see `outputPtr`). Null when
 * wasm memory is full, after freeing what was taken. No closures or spreads: these kernels run
 * dozens of times per training step, and their garbage was a good part of a compiled step's.
 */
export function takePointers(
  w: WasmRuntime,
  scratchBytes: number,
  ins: readonly TensorInfo[],
  outs: readonly TensorInfo[],
): number[] | null {
  const p: number[] = [];
  try {
    if (scratchBytes > 0) p.push(w.scratch(scratchBytes));
    for (let i = 0; i < ins.length; i++) p.push(w.input(data(ins[i])));
    for (let i = 0; i < outs.length; i++) p.push(outputPtr(w, outs[i]));
    return p;
  } catch (e) {
    if (outOfMemory(w, e)) return null;
    throw e;
  }
}

/** After a failed pointer: frees what was taken; whether the failure was a full wasm memory. */
function outOfMemory(w: WasmRuntime, e: unknown): boolean {
  w.release();
  return e instanceof Error && /out of WebAssembly memory/.test(e.message);
}

/** An output's pointer: in place when resident, else a temporary block to copy back from. */
function outputPtr(w: WasmRuntime, t: TensorInfo): number {
  const d = data(t);
  return d.ptr >= 0 ? d.ptr : w.temp(d.size * 4);
}

/** Pointers for the outputs (see `outputPtr`). */
export function outputs(w: WasmRuntime, ts: readonly TensorInfo[]): number[] {
  const p: number[] = [];
  for (let i = 0; i < ts.length; i++) p.push(outputPtr(w, ts[i]));
  return p;
}

/**
 * Copies temporary output blocks back into the outputs that are not resident (output i's block is
 * ptrs[from + i]), then frees them.
 */
export function finish(w: WasmRuntime, ts: readonly TensorInfo[], ptrs: readonly number[], from = 0): void {
  for (let i = 0; i < ts.length; i++) {
    const d = data(ts[i]);
    if (d.ptr < 0) w.get(ptrs[from + i], d.values as Float32Array);
  }
  w.release();
}

/** Below this many multiply-adds the call costs more than the TypeScript loop saves. */
const MATMUL_MIN_MACS = 2048;

export const fastMatmulKernel: Kernel<"matmul", CpuBackend> = (backend, inputs, outs, at) => {
  const { m, n, k, batch, batchA, batchB, transA, transB } = at;
  const w = m * n * k * batch >= MATMUL_MIN_MACS ? wasmRuntime() : null;
  if (!w) return matmulKernel(backend, inputs, outs, at);
  const p = takePointers(w, 0, inputs, outs);
  if (!p) return matmulKernel(backend, inputs, outs, at);
  let scratch: number;
  try {
    scratch = w.gemmScratch();
  } catch (e) {
    if (outOfMemory(w, e)) return matmulKernel(backend, inputs, outs, at);
    throw e;
  }
  w.gemm(p[0], p[1], p[2], batch, batchA, batchB, m, n, k, transA ? 1 : 0, transB ? 1 : 0, scratch);
  finish(w, outs, p, 2);
};

/** Below this many elements the call (and copies of non-resident operands) cost more than SIMD saves. */
const BINARY_MIN_SIZE = 4096;
const BINARY_OPS: Record<string, number> = { add: 0, sub: 1, mul: 2, div: 3 };

/**
 * Float32 add / sub / mul / div in wasm SIMD when both operands are either the output's full size
 * (same layout: CPU buffers are contiguous) or a single value, the shapes of a training step's
 * big elementwise ops (SGD updates, activation gradients). Returns false when it did not run.
 */
export function fastBinaryF32(op: string, a: TensorInfo, b: TensorInfo, y: TensorInfo): boolean {
  const code = BINARY_OPS[op];
  const n = y.size;
  if (code === undefined || n < BINARY_MIN_SIZE) return false;
  if ((a.size !== n && a.size !== 1) || (b.size !== n && b.size !== 1)) return false;
  const w = wasmRuntime();
  if (!w) return false;
  const p = takePointers(w, 0, [a, b], [y]);
  if (!p) return false;
  w.exports.binaryF32(code, p[0], p[1], p[2], n, a.size === 1 ? 1 : 0, b.size === 1 ? 1 : 0);
  finish(w, [y], p, 2);
  return true;
}

export const fastBatchNormTrainKernel: Kernel<"batchNormTrain", CpuBackend> = (backend, inputs, outs, at) => {
  const w = wasmRuntime();
  if (!w) return batchNormTrainKernel(backend, inputs, outs, at);
  const { outer, channels, inner, eps } = at;
  const p = takePointers(w, channels * 24, inputs, outs);
  if (!p) return batchNormTrainKernel(backend, inputs, outs, at);
  const [scratch, px, pg, pbeta, py, pm, ps, pv] = p;
  w.exports.batchNormTrain(px, pg, pbeta, py, pm, ps, pv, outer, channels, inner, eps, scratch);
  finish(w, outs, p, 4);
};

export const fastBatchNormGradKernel: Kernel<"batchNormGrad", CpuBackend> = (backend, inputs, outs, at) => {
  const w = wasmRuntime();
  if (!w) return batchNormGradKernel(backend, inputs, outs, at);
  const { outer, channels, inner } = at;
  const p = takePointers(w, channels * 28, inputs, outs);
  if (!p) return batchNormGradKernel(backend, inputs, outs, at);
  const [scratch, pdy, px, pg, pm, ps, pdx, pdg, pdb] = p;
  w.exports.batchNormGrad(pdy, px, pg, pm, ps, pdx, pdg, pdb, outer, channels, inner, scratch);
  finish(w, outs, p, 6);
};
