import type { Module } from "@minibatch/nn";
import { fromArray, type Tensor, tidy } from "@minibatch/tensor";
import type { Collective } from "./collective";
import { allReduceGradients, broadcastModule } from "./ddp";
import type { FromReplica, HostTensor, ToReplica } from "./protocol";
import { SharedMemoryCollective } from "./shared-memory";
import { setSyncGroup } from "./sync-batchnorm";

/** What a replica needs to train: built once per worker thread by `ReplicaTask.setup`. */
export interface Replica {
  model: Module;
  /** Anything with PyTorch's optimizer shape (every `@minibatch/optim` optimizer). */
  optimizer: { step(): unknown; zeroGrad(): void };
  /** The mean loss of this replica's share of the batch. */
  loss(output: Tensor, target: Tensor): Tensor;
}

export interface ReplicaContext<O = unknown> {
  rank: number;
  worldSize: number;
  group: Collective;
  /** The `options` given to `DataParallel.start`, as posted (structured clone). */
  options: O;
}

export interface ReplicaTask<O = unknown> {
  setup(ctx: ReplicaContext<O>): Replica | Promise<Replica>;
}

function toTensor(h: HostTensor): Tensor {
  return fromArray(h.data, h.shape, h.data instanceof Int32Array ? "int32" : "float32");
}

/**
 * The body of a data-parallel worker script: call it once at the top level of the module you
 * pass to `DataParallel.start({ script })`, after importing a backend. Each step runs forward and
 * backward on this rank's share of the batch, averages the gradients over the group, and steps
 * the optimizer, so every replica stays identical.
 */
export async function serveReplica<O = unknown>(task: ReplicaTask<O>): Promise<void> {
  const wt = "node:worker_threads";
  const { parentPort } = (await import(/* @vite-ignore */ wt)) as typeof import("node:worker_threads");
  if (!parentPort) throw new Error("serveReplica: must run in a worker thread started by DataParallel");
  const port = parentPort;
  const post = (m: FromReplica) => port.postMessage(m);
  let replica: Replica | null = null;
  let group: SharedMemoryCollective | null = null;
  let flat: Float32Array | undefined;
  port.on("message", async (m: ToReplica) => {
    const seq = "seq" in m ? m.seq : null;
    try {
      if (m.type === "init") {
        group = new SharedMemoryCollective(m.group, m.rank, { timeoutMs: m.timeoutMs });
        replica = await task.setup({
          rank: m.rank,
          worldSize: group.worldSize,
          group,
          options: m.options as O,
        });
        setSyncGroup(replica.model, m.syncBatchNorm ? group : null);
        broadcastModule(replica.model, group, 0);
        replica.model.train();
        post({ type: "ready", numParameters: replica.model.numParameters() });
      } else if (m.type === "step") {
        if (!replica || !group) throw new Error("step before init");
        const r = replica;
        const g = group;
        const t0 = performance.now();
        const loss = tidy(() => {
          const x = toTensor(m.input);
          const y = toTensor(m.target);
          const l = r.loss(r.model.call(x), y);
          l.backward();
          return l.dataSync()[0];
        });
        const t1 = performance.now();
        flat = allReduceGradients(r.model, g, flat);
        const lossBuf = new Float64Array([loss]);
        g.allReduce(lossBuf, "mean");
        const t2 = performance.now();
        r.optimizer.step();
        r.optimizer.zeroGrad();
        const t3 = performance.now();
        post({
          type: "stepped",
          seq: m.seq,
          loss: lossBuf[0],
          ms: { compute: t1 - t0 + (t3 - t2), allReduce: t2 - t1 },
        });
      } else if (m.type === "state") {
        if (!replica) throw new Error("state before init");
        const state: Record<string, HostTensor> = {};
        for (const [k, t] of Object.entries(replica.model.stateDict())) {
          const d = t.dataSync();
          state[k] = {
            data: d instanceof Int32Array ? d.slice() : Float32Array.from(d),
            shape: [...t.shape],
          };
        }
        post({ type: "state", seq: m.seq, state });
      } else if (m.type === "close") {
        replica?.model.dispose();
        post({ type: "closed" });
      }
    } catch (e) {
      post({ type: "error", seq, message: (e as Error).stack ?? String(e) });
    }
  });
}
