export {
  type Collective,
  type CollectiveArray,
  type ReduceOp,
  SingleCollective,
} from "./collective";
export { DataParallel, type DataParallelOptions, type StepResult } from "./data-parallel";
export { allReduceGradients, broadcastModule } from "./ddp";
export type { HostTensor } from "./protocol";
export { type Replica, type ReplicaContext, type ReplicaTask, serveReplica } from "./replica";
export {
  abortSharedGroup,
  createSharedGroup,
  type SharedGroupDescriptor,
  type SharedGroupOptions,
  SharedMemoryCollective,
  type SharedMemoryCollectiveOptions,
} from "./shared-memory";
export { SyncBatchNorm, type SyncBatchNormOptions, setSyncGroup } from "./sync-batchnorm";
export { fromTorchSafetensors, toTorchSafetensors } from "./torch";
