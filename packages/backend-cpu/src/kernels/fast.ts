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
    w.release();
    if (e instanceof Error && /out of WebAssembly memory/.test(e.message)) return null;
    throw e;
  }
}

/** Pointers for the outputs: in place when resident, else temporary blocks to copy back from. */
export function outputs(w: WasmRuntime, ts: readonly TensorInfo[]): number[] {
  return ts.map((t) => {
    const d = data(t);
    return d.ptr >= 0 ? d.ptr : w.temp(d.size * 4);
  });
}

/** Copies temporary output blocks back into the outputs that are not resident, then frees them. */
export function finish(w: WasmRuntime, ts: readonly TensorInfo[], ptrs: readonly number[]): void {
  ts.forEach((t, i) => {
    const d = data(t);
    if (d.ptr < 0) w.get(ptrs[i], d.values as Float32Array);
  });
  w.release();
}

/** Below this many multiply-adds the call costs more than the TypeScript loop saves. */
const MATMUL_MIN_MACS = 2048;

export const fastMatmulKernel: Kernel<"matmul", CpuBackend> = (backend, inputs, outs, at) => {
  const { m, n, k, batch, batchA, batchB, transA, transB } = at;
  const w = m * n * k * batch >= MATMUL_MIN_MACS ? wasmRuntime() : null;
  if (!w) return matmulKernel(backend, inputs, outs, at);
  const p = pointers(w, () => {
    const scratch = w.gemmScratch();
    return [scratch, w.input(data(inputs[0])), w.input(data(inputs[1])), ...outputs(w, outs)];
  });
  if (!p) return matmulKernel(backend, inputs, outs, at);
  const [scratch, pa, pb, pc] = p;
  w.gemm(pa, pb, pc, batch, batchA, batchB, m, n, k, transA ? 1 : 0, transB ? 1 : 0, scratch);
  finish(w, outs, [pc]);
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
  const p = pointers(w, () => [w.input(data(a)), w.input(data(b)), ...outputs(w, [y])]);
  if (!p) return false;
  const [pa, pb, py] = p;
  w.exports.binaryF32(code, pa, pb, py, n, a.size === 1 ? 1 : 0, b.size === 1 ? 1 : 0);
  finish(w, [y], [py]);
  return true;
}

export const fastBatchNormTrainKernel: Kernel<"batchNormTrain", CpuBackend> = (backend, inputs, outs, at) => {
  const w = wasmRuntime();
  if (!w) return batchNormTrainKernel(backend, inputs, outs, at);
  const { outer, channels, inner, eps } = at;
  const p = pointers(w, () => [
    w.scratch(channels * 24),
    ...inputs.map((t) => w.input(data(t))),
    ...outputs(w, outs),
  ]);
  if (!p) return batchNormTrainKernel(backend, inputs, outs, at);
  const [scratch, px, pg, pbeta, py, pm, ps, pv] = p;
  w.exports.batchNormTrain(px, pg, pbeta, py, pm, ps, pv, outer, channels, inner, eps, scratch);
  finish(w, outs, [py, pm, ps, pv]);
};

export const fastBatchNormGradKernel: Kernel<"batchNormGrad", CpuBackend> = (backend, inputs, outs, at) => {
  const w = wasmRuntime();
  if (!w) return batchNormGradKernel(backend, inputs, outs, at);
  const { outer, channels, inner } = at;
  const p = pointers(w, () => [
    w.scratch(channels * 28),
    ...inputs.map((t) => w.input(data(t))),
    ...outputs(w, outs),
  ]);
  if (!p) return batchNormGradKernel(backend, inputs, outs, at);
  const [scratch, pdy, px, pg, pm, ps, pdx, pdg, pdb] = p;
  w.exports.batchNormGrad(pdy, px, pg, pm, ps, pdx, pdg, pdb, outer, channels, inner, scratch);
  finish(w, outs, [pdx, pdg, pdb]);
};
