export {
  type CheckpointContents,
  checkpointFromBytes,
  checkpointToBytes,
  type LoadCheckpointOptions,
  type LoadedCheckpoint,
  loadCheckpoint,
  type OptimizerLike,
  type OptimizerState,
  saveCheckpoint,
} from "./checkpoint";
export * as init from "./init";
export { GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh } from "./layers/activation";
export { ModuleList, Sequential } from "./layers/container";
export { Conv2d, type Conv2dOptions } from "./layers/conv";
export { Dropout, type DropoutOptions, dropout } from "./layers/dropout";
export { Embedding, type EmbeddingOptions } from "./layers/embedding";
export { Linear, type LinearOptions } from "./layers/linear";
export { AvgPool2d, MaxPool2d, type Pool2dOptions } from "./layers/pooling";
export { Flatten, Identity } from "./layers/shape";
export {
  BCELoss,
  BCEWithLogitsLoss,
  type BceOptions,
  type BceWithLogitsOptions,
  binaryCrossEntropy,
  binaryCrossEntropyWithLogits,
  CrossEntropyLoss,
  type CrossEntropyOptions,
  crossEntropy,
  HuberLoss,
  huberLoss,
  L1Loss,
  l1Loss,
  MSELoss,
  mseLoss,
  NLLLoss,
  type NllLossOptions,
  nllLoss,
  type Reduction,
} from "./losses";
export { accuracy, ConfusionMatrix, RunningAverage, RunningMean } from "./metrics";
export { Module } from "./module";
export { loadSafetensors, type SafetensorsFile, saveSafetensors } from "./safetensors";
export {
  type BatchMetric,
  type Callback,
  checkpointEvery,
  type EpochLogs,
  earlyStopping,
  type FitOptions,
  fit,
  progress,
  Trainer,
  type TrainerOptimizer,
  type TrainerOptions,
  type TrainerScheduler,
} from "./trainer";
