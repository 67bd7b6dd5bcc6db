import type { SharedGroupDescriptor } from "./shared-memory";

/** A tensor's values on the host, as posted between threads. */
export interface HostTensor {
  data: Float32Array | Int32Array;
  shape: number[];
}

export type ToReplica =
  | {
      type: "init";
      rank: number;
      group: SharedGroupDescriptor;
      options: unknown;
      syncBatchNorm: boolean;
      timeoutMs: number;
    }
  | { type: "step"; seq: number; input: HostTensor; target: HostTensor }
  | { type: "state"; seq: number }
  | { type: "close" };

export type FromReplica =
  | { type: "ready"; numParameters: number }
  | { type: "stepped"; seq: number; loss: number; ms: { compute: number; allReduce: number } }
  | { type: "state"; seq: number; state: Record<string, HostTensor> }
  | { type: "error"; seq: number | null; message: string }
  | { type: "closed" };
