export {
  type CheckpointContents,
  checkpointFromBytes,
  checkpointToBytes,
  fromPyTorchKey,
  type LoadCheckpointOptions,
  type LoadedCheckpoint,
  loadCheckpoint,
  type OptimizerLike,
  type OptimizerState,
  saveCheckpoint,
  toPyTorchKey,
} from "./checkpoint";
export * as init from "./init";
export { GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh } from "./layers/activation";
export { ModuleList, Sequential } from "./layers/container";
export {
  Conv1d,
  type Conv1dOptions,
  Conv2d,
  type Conv2dOptions,
  ConvTranspose2d,
  type ConvTranspose2dOptions,
  type PaddingMode,
} from "./layers/conv";
export { Dropout, type DropoutOptions, dropout } from "./layers/dropout";
export { Embedding, type EmbeddingOptions } from "./layers/embedding";
export { Linear, type LinearOptions } from "./layers/linear";
export {
  AdaptiveAvgPool2d,
  type AdaptiveSize,
  AvgPool2d,
  type AvgPool2dOptions,
  adaptiveAvgPool2d,
  MaxPool2d,
  type MaxPool2dOptions,
  type Pool2dOptions,
} from "./layers/pooling";
export { Flatten, Identity } from "./layers/shape";
export { type InterpolateMode, type InterpolateOptions, interpolate, Upsample } from "./layers/upsample";
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
  KLDivLoss,
  type KlDivOptions,
  klDivLoss,
  L1Loss,
  l1Loss,
  MSELoss,
  mseLoss,
  NLLLoss,
  type NllLossOptions,
  nllLoss,
  type Reduction,
  SmoothL1Loss,
  type SmoothL1Options,
  smoothL1Loss,
} from "./losses";
export { accuracy, ConfusionMatrix, RunningAverage, RunningMean } from "./metrics";
export { Module } from "./module";
export { loadSafetensors, type SafetensorsFile, saveSafetensors } from "./safetensors";
export {
  CosineEmbeddingLoss,
  CosineSimilarity,
  type CosineSimilarityOptions,
  cosineEmbeddingLoss,
  cosineSimilarity,
  type MarginLossOptions,
  MarginRankingLoss,
  marginRankingLoss,
} from "./similarity";
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
