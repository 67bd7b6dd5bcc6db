export {
  BINARY_OPS,
  BINARY_SPECS,
  type BinaryOp,
  COMPARE_OPS,
  COMPARE_SPECS,
  type CompareOp,
} from "./binary";
export type { BinarySpec, DTypePolicy, SpecCases, UnarySpec } from "./types";
export { erf64, UNARY_OPS, UNARY_SPECS, type UnaryOp } from "./unary";
