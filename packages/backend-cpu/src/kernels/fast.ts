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
  const scratch = w.scratch(w.exports.gemmScratchBytes());
  const pa = w.input(data(inputs[0]));
  const pb = w.input(data(inputs[1]));
  const [pc] = outputs(w, outs);
  w.exports.gemm(pa, pb, pc, batch, batchA, batchB, m, n, k, transA ? 1 : 0, transB ? 1 : 0, scratch);
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
  const pa = w.input(data(a));
  const pb = w.input(data(b));
  const [py] = outputs(w, [y]);
  w.exports.binaryF32(code, pa, pb, py, n, a.size === 1 ? 1 : 0, b.size === 1 ? 1 : 0);
  finish(w, [y], [py]);
  return true;
}

export const fastBatchNormTrainKernel: Kernel<"batchNormTrain", CpuBackend> = (backend, inputs, outs, at) => {
  const w = wasmRuntime();
  if (!w) return batchNormTrainKernel(backend, inputs, outs, at);
  const { outer, channels, inner, eps } = at;
  const scratch = w.scratch(channels * 24);
  const [px, pg, pbeta] = inputs.map((t) => w.input(data(t)));
  const [py, pm, ps, pv] = outputs(w, outs);
  w.exports.batchNormTrain(px, pg, pbeta, py, pm, ps, pv, outer, channels, inner, eps, scratch);
  finish(w, outs, [py, pm, ps, pv]);
};

export const fastBatchNormGradKernel: Kernel<"batchNormGrad", CpuBackend> = (backend, inputs, outs, at) => {
  const w = wasmRuntime();
  if (!w) return batchNormGradKernel(backend, inputs, outs, at);
  const { outer, channels, inner } = at;
  const scratch = w.scratch(channels * 28);
  const [pdy, px, pg, pm, ps] = inputs.map((t) => w.input(data(t)));
  const [pdx, pdg, pdb] = outputs(w, outs);
  w.exports.batchNormGrad(pdy, px, pg, pm, ps, pdx, pdg, pdb, outer, channels, inner, scratch);
  finish(w, outs, [pdx, pdg, pdb]);
};
