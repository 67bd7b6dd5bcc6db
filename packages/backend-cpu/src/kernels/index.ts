import { BINARY_OPS, COMPARE_OPS, type KernelTable, kernelsFor, UNARY_OPS } from "@minibatch/tensor";
import type { CpuBackend } from "../backend";
import { fastConv2dGradFilterKernel, fastConv2dGradInputKernel, fastConv2dKernel } from "./conv-fast";
import {
  binaryKernel,
  castKernel,
  clampKernel,
  compareKernel,
  unaryKernel,
  whereKernel,
} from "./elementwise";
import { fastBatchNormGradKernel, fastBatchNormTrainKernel, fastMatmulKernel } from "./fast";
import { concatKernel, gatherKernel, scatterAddKernel, stridedKernel } from "./layout";
import { avgPool2dGradKernel, avgPool2dKernel, maxPool2dGradKernel, maxPool2dKernel } from "./pool";
import { reduceKernel } from "./reduce";
import { argsortKernel, cumsumKernel } from "./scan";

export const KERNELS: KernelTable<CpuBackend> = {
  ...kernelsFor(UNARY_OPS, unaryKernel),
  clamp: clampKernel,
  cast: castKernel,
  ...kernelsFor(BINARY_OPS, binaryKernel),
  ...kernelsFor(COMPARE_OPS, compareKernel),
  where: whereKernel,
  sum: reduceKernel("sum"),
  max: reduceKernel("max"),
  min: reduceKernel("min"),
  argmax: reduceKernel("argmax"),
  argmin: reduceKernel("argmin"),
  // WebAssembly SIMD with the TypeScript kernel as fallback (see ./fast.ts).
  matmul: fastMatmulKernel,
  strided: stridedKernel,
  concat: concatKernel,
  gather: gatherKernel,
  scatterAdd: scatterAddKernel,
  argsort: argsortKernel,
  cumsum: cumsumKernel,
  // im2col + the wasm gemm, with the direct TypeScript kernels as fallback (see ./conv-fast.ts).
  conv2d: fastConv2dKernel,
  conv2dGradInput: fastConv2dGradInputKernel,
  conv2dGradFilter: fastConv2dGradFilterKernel,
  maxPool2d: maxPool2dKernel,
  maxPool2dGrad: maxPool2dGradKernel,
  avgPool2d: avgPool2dKernel,
  avgPool2dGrad: avgPool2dGradKernel,
  batchNormTrain: fastBatchNormTrainKernel,
  batchNormGrad: fastBatchNormGradKernel,
};
