export { Adagrad, type AdagradOptions } from "./adagrad";
export { Adam, type AdamOptions, AdamW } from "./adam";
export { Adamax, type AdamaxOptions } from "./adamax";
export { clipGradNorm, clipGradValue } from "./clip";
export { ChainedScheduler, SequentialLR } from "./composite-schedulers";
export {
  ConstantLR,
  type ConstantLROptions,
  CosineAnnealingWarmRestarts,
  type CosineAnnealingWarmRestartsOptions,
  MultiStepLR,
  type MultiStepLROptions,
  PolynomialLR,
  type PolynomialLROptions,
} from "./decay-schedulers";
export { LBFGS, type LBFGSOptions } from "./lbfgs";
export { NAdam, type NAdamOptions } from "./nadam";
export {
  Optimizer,
  type OptimizerStateDict,
  type ParamGroup,
  type ParamGroupInput,
  type ParamState,
  type Params,
} from "./optimizer";
export { ReduceLROnPlateau, type ReduceLROnPlateauOptions } from "./plateau";
export { RAdam, type RAdamOptions } from "./radam";
export { RMSprop, type RMSpropOptions } from "./rmsprop";
export {
  CosineAnnealingLR,
  ExponentialLR,
  LambdaLR,
  LinearLR,
  type LinearLROptions,
  LRScheduler,
  OneCycleLR,
  type OneCycleLROptions,
  type SchedulerOptions,
  StepLR,
} from "./schedulers";
export { SGD, type SGDOptions } from "./sgd";
