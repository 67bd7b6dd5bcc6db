export { Adam, type AdamOptions, AdamW } from "./adam";
export { clipGradNorm, clipGradValue } from "./clip";
export {
  Optimizer,
  type OptimizerStateDict,
  type ParamGroup,
  type ParamGroupInput,
  type ParamState,
  type Params,
} from "./optimizer";
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
  StepLR,
} from "./schedulers";
export { SGD, type SGDOptions } from "./sgd";
