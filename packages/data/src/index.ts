export { type EpochTiming, timeEpoch } from "./bench";
export { type Collated, defaultCollate, hostBatchToTensors } from "./collate";
export { collateHost, type HostAlloc, type HostArrayOf, type HostBatch } from "./collate-host";
export {
  ArrayDataset,
  ConcatDataset,
  Dataset,
  getMany,
  isMapStyle,
  MappedDataset,
  type MapStyleDataset,
  Subset,
  ZipDataset,
} from "./datasets";
export { DistributedSampler, type DistributedSamplerOptions } from "./distributed-sampler";
export { IterableDataset } from "./iterable";
export { DataLoader, type DataLoaderOptions } from "./loader";
export { type HostDType, type HostTypedArray, int32Scalar, NDArray, ndarray } from "./ndarray";
export { type CsvColumnType, type CsvOptions, parseCsv } from "./readers/csv";
export {
  decodeIdx,
  IDX_TYPES,
  type IdxBatch,
  type IdxDecodeOptions,
  type IdxHeader,
  type IdxStreamOptions,
  parseIdxHeader,
  streamIdx,
} from "./readers/idx";
export { linesOf, parseJsonl } from "./readers/jsonl";
export { type ByteSource, bytesOf, textOf } from "./readers/source";
export { csvUrlDataset, jsonlUrlDataset } from "./readers/url";
export {
  BatchSampler,
  type BatchSamplerLike,
  RandomSampler,
  type RandomSamplerOptions,
  type Sampler,
  SequentialSampler,
  ShardSampler,
  type ShardSamplerOptions,
  SubsetRandomSampler,
  WeightedRandomSampler,
} from "./samplers";
export { epochGenerator } from "./seeds";
export { randomSplit } from "./split";
export { TensorDataset } from "./tensor-dataset";
export type { WorkerDatasetSpec, WorkerDescriptor } from "./workers/descriptor";
