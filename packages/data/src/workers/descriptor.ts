/**
 * How a dataset is rebuilt inside a worker thread. Functions and open file handles cannot cross
 * threads, so a dataset that loads in workers describes itself as data.
 */
export type WorkerDescriptor =
  | {
      kind: "module";
      /** A module URL or absolute path the worker can `import()`. */
      module: string;
      /** The export to use: a dataset, or a (possibly async) function returning one. Default "default". */
      export?: string;
      /** Arguments passed to the export when it is a function (structured-cloneable). */
      args?: unknown[];
    }
  | { kind: "idx"; path: string; options: Record<string, unknown> }
  | { kind: "subset"; of: WorkerDescriptor; indices: number[] }
  | { kind: "concat"; of: WorkerDescriptor[] }
  | { kind: "zip"; of: WorkerDescriptor[]; keys?: string[] };

/** A user module that builds the dataset inside each worker (the `workerDataset` loader option). */
export interface WorkerDatasetSpec {
  module: string | URL;
  export?: string;
  args?: unknown[];
}

/** Either a descriptor, or a sentence saying why the dataset cannot be sent to a worker. */
export type Describe = WorkerDescriptor | { reason: string };

export function isReason(d: Describe): d is { reason: string } {
  return "reason" in d;
}
