import { installSpecMethods } from "./tensor";

export { type BackwardOptions, customOp, isGradEnabled, type Node, noGrad, record } from "./autograd";
export type {
  Backend,
  BatchNormAttrs,
  BinaryAttrs,
  BinaryOp,
  CompareOp,
  Conv2dAttrs,
  DataId,
  FusedOp,
  Kernel,
  KernelTable,
  OpAttrs,
  OpName,
  Pool2dAttrs,
  PrimitiveOp,
  ReduceAttrs,
  ReduceOp,
  TensorInfo,
  UnaryOp,
} from "./backend";
export {
  assertNever,
  BINARY_OPS,
  COMPARE_OPS,
  FUSED_OPS,
  kernelsFor,
  REDUCE_OPS,
  UNARY_OPS,
} from "./backend";
export { type CompiledFn, type CompileOptions, type CompileStats, compile } from "./compile/compile";
export {
  FUSIBLE_OPS,
  type FusedArg,
  type FusedExpr,
  type FusedKernel,
  type FusibleOp,
} from "./compile/fuse";
export type { ProfileRow } from "./compile/program";
export { isTracing, traceEffect, traceGuard } from "./compile/trace";
export { FUSED_DEFAULTS } from "./defaults";
export { allocArray, BYTES_PER_ELEMENT, DTYPES, type DType, promote, type TypedArray } from "./dtype";
export { getBackend, type MemoryInfo, memory, registerBackend, resetPeakMemory, setBackend } from "./engine";
export { type GradFn, gradFn } from "./gradients";
export {
  assertIndices,
  checkIndices,
  firstBadIndex,
  type IndexCheck,
  indexError,
  indexErrorMessage,
  isValidIndex,
} from "./index-errors";
export { MEMORY_HELP, markStep, setLeakWarning } from "./leak-watch";
export * from "./ops";
export { variance as var } from "./ops/reduce";
export { composite, compositeNames, defineComposite, runOp } from "./ops/run";
export { checkOptionKeys, describeValue, suggest } from "./options";
export { defaultGenerator, Generator, manualSeed } from "./random";
export { dispose, keep, tidy } from "./scope";
export {
  broadcastShapes,
  broadcastStrides,
  checkInts,
  fmt as formatShape,
  mergeAxes,
  mergeAxesInto,
  normalizeAxes,
  normalizeAxis,
  type Shape,
  sizeOf,
  stridesOf,
} from "./shape";
export {
  BINARY_SPECS,
  type BinarySpec,
  COMPARE_SPECS,
  type DTypePolicy,
  erf64,
  type SpecCases,
  UNARY_SPECS,
  type UnarySpec,
} from "./specs";
export { type AxisArg, Tensor } from "./tensor";

installSpecMethods();
