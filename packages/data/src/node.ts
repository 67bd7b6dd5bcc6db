/**
 * Node.js-only parts (file system access): `import { IdxDataset } from "@minibatch/data/node"`.
 * Kept apart so that the main entry bundles for browsers.
 */

export { type MnistOptions, openMnist } from "./mnist";
export {
  csvFileDataset,
  jsonlFileDataset,
  openFileStream,
  readCsvFile,
  readIdxFile,
  readJsonlFile,
} from "./readers/files";
export { IdxDataset, type IdxDatasetOptions, IdxFile } from "./readers/idx-file";
