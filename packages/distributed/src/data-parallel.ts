import type { FromReplica, HostTensor, ToReplica } from "./protocol";
import { abortSharedGroup, createSharedGroup, type SharedGroupDescriptor } from "./shared-memory";

export interface DataParallelOptions<O = unknown> {
  /** The worker script: a module that imports a backend and calls `serveReplica(task)`. */
  script: string | URL;
  /** Replicas (worker threads); the global batch is split evenly over them. */
  workers: number;
  /** Posted to every replica's `setup` (must survive structured clone). */
  options?: O;
  /** Normalize SyncBatchNorm layers over the global batch (default true); false: per replica. */
  syncBatchNorm?: boolean;
  /** A replica that waits longer than this in a collective fails (default 120000 ms). */
  timeoutMs?: number;
}

const OPTION_NAMES = ["script", "workers", "options", "syncBatchNorm", "timeoutMs"];

export interface StepResult {
  /** The mean loss over the global batch. */
  loss: number;
  /** Per replica: milliseconds in forward + backward + optimizer, and in the gradient all-reduce. */
  ms: { compute: number; allReduce: number }[];
}

type Pending = { resolve: (m: FromReplica) => void; reject: (e: Error) => void };

/**
 * Synchronous data-parallel training on worker threads of one Node.js process (PyTorch
 * DistributedDataParallel on one machine): `step(input, target)` splits the global batch along its
 * first axis into one equal share per replica; every replica runs forward and backward on its
 * share, the gradients are averaged with an all-reduce over SharedArrayBuffer, and every replica
 * takes the same optimizer step.
 */
export class DataParallel {
  private seq = 0;
  private pending = new Map<number, Pending[]>();
  private failure: Error | null = null;
  private closed = false;

  private constructor(
    private readonly workers: import("node:worker_threads").Worker[],
    private readonly group: SharedGroupDescriptor,
    readonly numParameters: number,
  ) {}

  get worldSize(): number {
    return this.workers.length;
  }

  static async start<O>(opts: DataParallelOptions<O>): Promise<DataParallel> {
    for (const k of Object.keys(opts)) {
      if (!OPTION_NAMES.includes(k)) {
        const hint = OPTION_NAMES.find(
          (n) => n.toLowerCase() === k.toLowerCase() || n.startsWith(k.slice(0, 3)),
        );
        throw new Error(
          `DataParallel.start: unknown option '${k}'${hint ? ` (did you mean '${hint}'?)` : ` (options: ${OPTION_NAMES.join(", ")})`}`,
        );
      }
    }
    const n = opts.workers;
    if (!Number.isInteger(n) || n < 1) {
      throw new Error(`DataParallel.start: workers must be an integer >= 1, got ${String(n)}`);
    }
    if (!opts.script)
      throw new Error("DataParallel.start: script (the worker module calling serveReplica) is required");
    const { Worker } = (await import(
      /* @vite-ignore */ "node:worker_threads"
    )) as typeof import("node:worker_threads");
    const group = createSharedGroup(n);
    const src =
      typeof opts.script === "string" && !/^[a-z]+:/i.test(opts.script) ? opts.script : new URL(opts.script);
    const workers = Array.from({ length: n }, () => new Worker(src));
    const dp = new DataParallel(workers, group, 0);
    const ready = workers.map(
      (w, rank) =>
        new Promise<number>((resolve, reject) => {
          w.on("message", (m: FromReplica) => {
            if (m.type === "ready") resolve(m.numParameters);
            else if (m.type === "error" && m.seq === null)
              reject(new Error(`DataParallel replica ${rank}: ${m.message}`));
            else dp.receive(rank, m);
          });
          const fail = (e: Error) => {
            reject(e);
            dp.fail(new Error(`DataParallel replica ${rank}: ${e.message}`));
          };
          w.on("error", fail);
          w.on("exit", (code) => {
            if (code !== 0) fail(new Error(`worker exited with code ${code}`));
          });
          const init: ToReplica = {
            type: "init",
            rank,
            group,
            options: opts.options,
            syncBatchNorm: opts.syncBatchNorm ?? true,
            timeoutMs: opts.timeoutMs ?? 120_000,
          };
          w.postMessage(init);
        }),
    );
    try {
      const counts = await Promise.all(ready);
      (dp as { numParameters: number }).numParameters = counts[0];
    } catch (e) {
      abortSharedGroup(group);
      await Promise.all(workers.map((w) => w.terminate()));
      throw e;
    }
    return dp;
  }

  private fail(e: Error): void {
    if (this.closed) return;
    this.failure ??= e;
    abortSharedGroup(this.group);
    for (const list of this.pending.values()) for (const p of list) p.reject(this.failure);
    this.pending.clear();
  }

  private receive(rank: number, m: FromReplica): void {
    if (m.type === "error") {
      this.fail(new Error(`DataParallel replica ${rank}: ${m.message}`));
      return;
    }
    if (m.type === "closed" || m.type === "ready") return;
    const list = this.pending.get(m.seq);
    list?.[rank]?.resolve(m);
  }

  private request(build: (rank: number, seq: number) => ToReplica, ranks: number[]): Promise<FromReplica[]> {
    if (this.closed) return Promise.reject(new Error("DataParallel: closed"));
    if (this.failure) return Promise.reject(this.failure);
    const seq = this.seq++;
    const list: Pending[] = [];
    this.pending.set(seq, list);
    const all = ranks.map(
      (rank) =>
        new Promise<FromReplica>((resolve, reject) => {
          list[rank] = { resolve, reject };
          this.workers[rank].postMessage(build(rank, seq));
        }),
    );
    return Promise.all(all).finally(() => this.pending.delete(seq));
  }

  /**
   * One training step on a global batch: `input` and `target` are split along axis 0 into
   * `workers` equal shares (the batch size must divide evenly, as with PyTorch DDP's per-rank
   * batches). Returns the mean loss over the global batch.
   */
  async step(input: HostTensor, target: HostTensor): Promise<StepResult> {
    const W = this.workers.length;
    const b = checkHost(input, "input");
    if (checkHost(target, "target") !== b) {
      throw new Error(
        `DataParallel.step: input and target must have the same batch size, got ${b} and ${target.shape[0]}`,
      );
    }
    if (b % W !== 0) {
      throw new Error(
        `DataParallel.step: the batch size must be divisible by the ${W} workers, got ${b} (use a batch of ${Math.max(W, b - (b % W))} or dropLast)`,
      );
    }
    const share = (h: HostTensor, r: number): HostTensor => {
      const row = h.data.length / h.shape[0];
      const per = b / W;
      return { data: h.data.slice(r * per * row, (r + 1) * per * row), shape: [per, ...h.shape.slice(1)] };
    };
    const res = await this.request(
      (rank, seq) => ({ type: "step", seq, input: share(input, rank), target: share(target, rank) }),
      [...Array(W).keys()],
    );
    const stepped = res as Extract<FromReplica, { type: "stepped" }>[];
    return { loss: stepped[0].loss, ms: stepped.map((s) => s.ms) };
  }

  /** Rank 0's parameters and buffers (every replica holds the same ones). */
  async stateDict(): Promise<Record<string, HostTensor>> {
    const [m] = await this.request((_, seq) => ({ type: "state", seq }), [0]);
    return (m as Extract<FromReplica, { type: "state" }>).state;
  }

  /** Stops the worker threads. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 1000);
            w.once("message", () => {
              clearTimeout(timer);
              resolve();
            });
            w.postMessage({ type: "close" } satisfies ToReplica);
          }),
      ),
    );
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

function checkHost(h: HostTensor, what: string): number {
  if (!h || !(h.data instanceof Float32Array || h.data instanceof Int32Array) || !Array.isArray(h.shape)) {
    throw new Error(
      `DataParallel.step: ${what} must be { data: Float32Array | Int32Array, shape: number[] }`,
    );
  }
  const size = h.shape.reduce((a, d) => a * d, 1);
  if (h.shape.length < 1 || size !== h.data.length) {
    throw new Error(
      `DataParallel.step: ${what} has ${h.data.length} values, which cannot fill shape [${h.shape.join(", ")}]`,
    );
  }
  return h.shape[0];
}
