import type { KernelTable } from "@minibatch/tensor";
import type { CpuBackend } from "../backend";
import { fastConv2dGradFilterKernel, fastConv2dGradInputKernel, fastConv2dKernel } from "./conv-fast";
import {
  binaryKernel,
  castKernel,
  clampKernel,
  compareKernel,
  logicalNotKernel,
  unaryKernel,
  whereKernel,
} from "./elementwise";
import { fastBatchNormGradKernel, fastBatchNormTrainKernel, fastMatmulKernel } from "./fast";
import { concatKernel, gatherKernel, scatterAddKernel, stridedKernel } from "./layout";
import { avgPool2dGradKernel, avgPool2dKernel, maxPool2dGradKernel, maxPool2dKernel } from "./pool";
import { reduceKernel } from "./reduce";

export const KERNELS: KernelTable<CpuBackend> = {
  neg: unaryKernel("neg"),
  abs: unaryKernel("abs"),
  sign: unaryKernel("sign"),
  exp: unaryKernel("exp"),
  log: unaryKernel("log"),
  log1p: unaryKernel("log1p"),
  expm1: unaryKernel("expm1"),
  sqrt: unaryKernel("sqrt"),
  rsqrt: unaryKernel("rsqrt"),
  relu: unaryKernel("relu"),
  sigmoid: unaryKernel("sigmoid"),
  tanh: unaryKernel("tanh"),
  gelu: unaryKernel("gelu"),
  logicalNot: logicalNotKernel,
  clamp: clampKernel,
  cast: castKernel,
  add: binaryKernel("add"),
  sub: binaryKernel("sub"),
  mul: binaryKernel("mul"),
  div: binaryKernel("div"),
  pow: binaryKernel("pow"),
  maximum: binaryKernel("maximum"),
  minimum: binaryKernel("minimum"),
  eq: compareKernel("eq"),
  ne: compareKernel("ne"),
  lt: compareKernel("lt"),
  le: compareKernel("le"),
  gt: compareKernel("gt"),
  ge: compareKernel("ge"),
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
