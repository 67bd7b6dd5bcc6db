import type { Kernel } from "@minibatch/tensor";
import { buf, type CpuBackend } from "../backend";
import { wasmRuntime } from "../wasm/runtime";
import { batchNormGradKernel, batchNormTrainKernel } from "./batchnorm";
import { matmulKernel } from "./matmul";

// Kernels that run in WebAssembly SIMD when it is available and fall back to the TypeScript
// kernels (the reference in tests) otherwise. Inputs are copied into wasm memory and outputs
// copied back: a copy is O(size) against the O(m n k) or multi-pass work of these kernels, and
// it keeps every CpuData.values an ordinary typed array that wasm memory growth cannot detach.

/** Below this many multiply-adds the copies and call cost more than the TypeScript loop saves. */
const MATMUL_MIN_MACS = 2048;

export const fastMatmulKernel: Kernel<"matmul", CpuBackend> = (backend, inputs, outputs, at) => {
  const { m, n, k, batch, batchA, batchB, transA, transB } = at;
  const w = m * n * k * batch >= MATMUL_MIN_MACS ? wasmRuntime() : null;
  if (!w) return matmulKernel(backend, inputs, outputs, at);
  const A = buf(inputs[0]);
  const B = buf(inputs[1]);
  const C = buf(outputs[0]);
  w.reset();
  const pa = w.put(A);
  const pb = w.put(B);
  const pc = w.alloc(C.length * 4);
  const scratch = w.alloc(w.exports.gemmScratchBytes());
  w.exports.gemm(pa, pb, pc, batch, batchA, batchB, m, n, k, transA ? 1 : 0, transB ? 1 : 0, scratch);
  w.get(pc, C);
};

/** Below this many elements the two copies and the call cost more than SIMD saves over the JS loop. */
const BINARY_MIN_SIZE = 4096;
const BINARY_OPS: Record<string, number> = { add: 0, sub: 1, mul: 2, div: 3 };

/**
 * Float32 add / sub / mul / div in wasm SIMD when both operands are either the output's full size
 * (same layout: CPU buffers are contiguous) or a single value, the shapes of a training step's
 * big elementwise ops (SGD updates, activation gradients). Returns false when it did not run.
 */
export function fastBinaryF32(op: string, a: Float32Array, b: Float32Array, y: Float32Array): boolean {
  const code = BINARY_OPS[op];
  const n = y.length;
  if (code === undefined || n < BINARY_MIN_SIZE) return false;
  if ((a.length !== n && a.length !== 1) || (b.length !== n && b.length !== 1)) return false;
  const w = wasmRuntime();
  if (!w) return false;
  w.reset();
  const pa = w.put(a);
  const pb = w.put(b);
  const py = w.alloc(n * 4);
  w.exports.binaryF32(code, pa, pb, py, n, a.length === 1 ? 1 : 0, b.length === 1 ? 1 : 0);
  w.get(py, y);
  return true;
}

export const fastBatchNormTrainKernel: Kernel<"batchNormTrain", CpuBackend> = (
  backend,
  inputs,
  outputs,
  at,
) => {
  const w = wasmRuntime();
  if (!w) return batchNormTrainKernel(backend, inputs, outputs, at);
  const { outer, channels, inner, eps } = at;
  const [y, mean, invstd, varU] = outputs.map((t) => buf(t));
  w.reset();
  const px = w.put(buf(inputs[0]));
  const pg = w.put(buf(inputs[1]));
  const pbeta = w.put(buf(inputs[2]));
  const py = w.alloc(y.length * 4);
  const pm = w.alloc(channels * 4);
  const ps = w.alloc(channels * 4);
  const pv = w.alloc(channels * 4);
  const scratch = w.alloc(channels * 24);
  w.exports.batchNormTrain(px, pg, pbeta, py, pm, ps, pv, outer, channels, inner, eps, scratch);
  w.get(py, y);
  w.get(pm, mean);
  w.get(ps, invstd);
  w.get(pv, varU);
};

export const fastBatchNormGradKernel: Kernel<"batchNormGrad", CpuBackend> = (
  backend,
  inputs,
  outputs,
  at,
) => {
  const w = wasmRuntime();
  if (!w) return batchNormGradKernel(backend, inputs, outputs, at);
  const { outer, channels, inner } = at;
  const [dx, dgamma, dbeta] = outputs.map((t) => buf(t));
  w.reset();
  const [pdy, px, pg, pm, ps] = inputs.map((t) => w.put(buf(t)));
  const pdx = w.alloc(dx.length * 4);
  const pdg = w.alloc(channels * 4);
  const pdb = w.alloc(channels * 4);
  const scratch = w.alloc(channels * 28);
  w.exports.batchNormGrad(pdy, px, pg, pm, ps, pdx, pdg, pdb, outer, channels, inner, scratch);
  w.get(pdx, dx);
  w.get(pdg, dgamma);
  w.get(pdb, dbeta);
};
