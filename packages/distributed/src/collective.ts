/** How allReduce combines the ranks' values. */
export type ReduceOp = "sum" | "mean" | "max" | "min";

export type CollectiveArray = Float32Array | Float64Array;

/**
 * The collective operations data-parallel training needs, in the spirit of
 * `torch.distributed`'s process group: every rank of the group must call the same operations in
 * the same order with arrays of the same length. They are synchronous because a layer such as
 * SyncBatchNorm needs the global statistics in the middle of a (synchronous) forward pass.
 *
 * `SharedMemoryCollective` implements it for worker threads of one process; a binding to a real
 * collective library (MPI, NCCL, gloo) can implement the same interface later.
 */
export interface Collective {
  /** This participant, in [0, worldSize). */
  readonly rank: number;
  readonly worldSize: number;
  /** Combines `data` element-wise over every rank and writes the result into `data` on each rank. */
  allReduce(data: CollectiveArray, op?: ReduceOp): void;
  /** Copies `root`'s `data` into every other rank's `data`. */
  broadcast(data: CollectiveArray, root?: number): void;
  /** Returns once every rank has called it. */
  barrier(): void;
}

/** The trivial group of one: every operation leaves the data as it is. */
export class SingleCollective implements Collective {
  readonly rank = 0;
  readonly worldSize = 1;
  allReduce(data: CollectiveArray, op: ReduceOp = "sum"): void {
    checkOp(op, "SingleCollective.allReduce");
    checkArray(data, "SingleCollective.allReduce");
  }
  broadcast(data: CollectiveArray, root = 0): void {
    checkArray(data, "SingleCollective.broadcast");
    if (root !== 0)
      throw new Error(`SingleCollective.broadcast: root must be 0 in a group of 1, got ${root}`);
  }
  barrier(): void {}
}

const OPS: readonly ReduceOp[] = ["sum", "mean", "max", "min"];

export function checkOp(op: unknown, where: string): asserts op is ReduceOp {
  if (!OPS.includes(op as ReduceOp)) {
    throw new Error(`${where}: op must be one of ${OPS.map((o) => `'${o}'`).join(", ")}, got ${String(op)}`);
  }
}

export function checkArray(data: unknown, where: string): asserts data is CollectiveArray {
  if (!(data instanceof Float32Array) && !(data instanceof Float64Array)) {
    const got = data === null ? "null" : ((data as object)?.constructor?.name ?? typeof data);
    throw new Error(`${where}: data must be a Float32Array or Float64Array, got ${got}`);
  }
}
