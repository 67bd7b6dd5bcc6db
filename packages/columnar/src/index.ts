export { ParquetDataset, type ParquetDatasetOptions } from "./dataset";
export {
  type ColumnBlock,
  type ColumnStats,
  type ColumnValues,
  ParquetFile,
  type RowGroupInfo,
} from "./file";
export type { ColumnBatch, OpenOptions, ParquetRow } from "./files";
export { type OpenedSource, openSource, type ParquetSource, type ReadStats } from "./source";
export { ParquetStream, type ParquetStreamOptions } from "./stream";
