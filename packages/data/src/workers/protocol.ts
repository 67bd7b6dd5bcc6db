import type { HostBatch } from "../collate-host";
import type { WorkerDescriptor } from "./descriptor";

export type ToWorker =
  | { type: "init"; descriptor: WorkerDescriptor; workerIndex: number }
  | { type: "load"; seq: number; indices: number[]; raw: boolean }
  | { type: "close" };

export type FromWorker =
  | { type: "ready"; length: number }
  | { type: "closed" }
  | { type: "batch"; seq: number; host: HostBatch }
  | { type: "samples"; seq: number; samples: unknown[] }
  | { type: "error"; seq: number | null; message: string; stack?: string; sampleIndex?: number };
