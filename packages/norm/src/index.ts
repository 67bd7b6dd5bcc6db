export {
  BatchNorm1d,
  BatchNorm2d,
  BatchNorm3d,
  BatchNormBase,
  type BatchNormModuleOptions,
} from "./batchnorm";
export { type BatchNormOptions, batchNorm } from "./functional";
export { GhostBatchNorm, type GhostBatchNormOptions } from "./ghost";
export { GroupNorm, type GroupNormOptions } from "./groupnorm";
export {
  InstanceNorm1d,
  InstanceNorm2d,
  InstanceNorm3d,
  InstanceNormBase,
  type InstanceNormOptions,
} from "./instancenorm";
export { KerasBatchNormalization, type KerasBatchNormalizationOptions } from "./keras";
export { LayerNorm, type LayerNormOptions } from "./layernorm";
export { fromPyTorch, fromPyTorchStateDictKeys, toPyTorchStateDictKeys } from "./pytorch";
export { BatchRenorm, type BatchRenormOptions } from "./renorm";
export { RMSNorm, type RMSNormOptions } from "./rmsnorm";
export { type FitFromOptions, Scaler, type ScalerOptions } from "./scalers/base";
export { MinMaxScaler, type MinMaxScalerJSON, type MinMaxScalerOptions } from "./scalers/minmax";
export { StandardScaler, type StandardScalerJSON, type StandardScalerOptions } from "./scalers/standard";
export type { FitInput } from "./scalers/stats";
