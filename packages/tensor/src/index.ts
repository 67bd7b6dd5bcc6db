export { type BackwardOptions, customOp, isGradEnabled, type Node, noGrad, record } from "./autograd";
export type {
  Backend,
  BatchNormAttrs,
  BinaryAttrs,
  BinaryOp,
  CompareOp,
  Conv2dAttrs,
  DataId,
  Kernel,
  KernelTable,
  OpAttrs,
  OpName,
  Pool2dAttrs,
  ReduceAttrs,
  ReduceOp,
  TensorInfo,
  UnaryOp,
} from "./backend";
export { BINARY_OPS, COMPARE_OPS, REDUCE_OPS, UNARY_OPS } from "./backend";
export { allocArray, BYTES_PER_ELEMENT, DTYPES, type DType, promote, type TypedArray } from "./dtype";
export { ENGINE, getBackend, type MemoryInfo, memory, registerBackend, setBackend } from "./engine";
export { GRADS, type GradFn } from "./gradients";
export * from "./ops";
export { variance as var } from "./ops/reduce";
export { defaultGenerator, Generator, manualSeed } from "./random";
export { dispose, keep, tidy } from "./scope";
export {
  broadcastShapes,
  broadcastStrides,
  fmt as formatShape,
  normalizeAxes,
  normalizeAxis,
  type Shape,
  sizeOf,
  stridesOf,
} from "./shape";
export { type AxisArg, Tensor } from "./tensor";
