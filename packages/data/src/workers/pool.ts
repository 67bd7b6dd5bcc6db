import type { HostBatch } from "../collate-host";
import type { WorkerDescriptor } from "./descriptor";
import type { FromWorker, ToWorker } from "./protocol";

interface WorkerHandle {
  post(msg: ToWorker): void;
  onMessage(fn: (m: FromWorker) => void): void;
  onError(fn: (e: Error) => void): void;
  terminate(): Promise<unknown>;
}

const isNode = () => typeof process !== "undefined" && !!process.versions?.node;

/**
 * Where the worker script lives: next to this module once built (dist/worker.js or .cjs). When the
 * package runs from its TypeScript sources (tests), the built dist/worker.js is used.
 */
function defaultScript(): URL {
  let here: string | undefined;
  try {
    here = import.meta.url;
  } catch {
    here = undefined;
  }
  if (!here && typeof __filename !== "undefined") here = `file://${__filename}`;
  if (!here) throw new Error("DataLoader: cannot locate the worker script; pass workerScript");
  if (/\/src\/workers\/pool\.ts$/.test(here)) return new URL("../../dist/worker.js", here);
  return new URL(here.endsWith(".cjs") ? "./worker.cjs" : "./worker.js", here);
}

async function spawn(script: string | URL | undefined): Promise<WorkerHandle> {
  if (isNode()) {
    script ??= defaultScript();
    const wt = "node:worker_threads";
    const { Worker } = (await import(/* @vite-ignore */ wt)) as typeof import("node:worker_threads");
    const url = typeof script === "string" && !/^[a-z]+:/i.test(script) ? script : new URL(script);
    const w = new Worker(url);
    return {
      post: (m) => w.postMessage(m),
      onMessage: (fn) => w.on("message", fn),
      onError: (fn) => {
        w.on("error", fn);
        w.on("exit", (code) => {
          if (code !== 0) fn(new Error(`worker exited with code ${code}`));
        });
      },
      terminate: () => w.terminate(),
    };
  }
  // Without a workerScript, this exact expression is the pattern bundlers recognise (Vite, webpack
  // 5, Parcel): they emit dist/worker.js and its imports as a worker chunk. Do not compute the URL.
  const w =
    script === undefined
      ? new Worker(new URL("./worker.js", import.meta.url), { type: "module" })
      : new Worker(script, { type: "module" });
  const where = script === undefined ? "the bundled worker script" : `worker script ${String(script)}`;
  return {
    post: (m) => w.postMessage(m),
    onMessage: (fn) => w.addEventListener("message", (e) => fn(e.data)),
    // A script that fails to load gives an ErrorEvent without a message: say what failed.
    onError: (fn) =>
      w.addEventListener("error", (e) =>
        fn(
          new Error(
            e.message ||
              `DataLoader: ${where} failed to load or crashed (no details from the browser: check the network tab and the console); pass workerScript to point at @minibatch/data's dist/worker.js`,
          ),
        ),
      ),
    terminate: async () => w.terminate(),
  };
}

/** The worker's error on the main thread: names worker, batch and sample, and keeps the worker's stack. */
function workerError(
  worker: number,
  seq: number,
  m: { message: string; stack?: string; sampleIndex?: number },
): Error {
  const sample = m.sampleIndex !== undefined ? `, sample ${m.sampleIndex}` : "";
  const err = new Error(`DataLoader worker ${worker}, batch ${seq}${sample}: ${m.message}`);
  if (m.stack) {
    const frames = m.stack.split("\n").filter((l) => /^\s+at /.test(l));
    err.stack = `${err.name}: ${err.message}\n    --- in worker thread ${worker} ---\n${frames.join("\n")}\n    --- on the main thread ---\n${(err.stack ?? "").split("\n").slice(1).join("\n")}`;
  }
  return err;
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

/** Worker threads that each rebuilt the dataset; batch `seq` goes to worker seq mod n. */
export class WorkerPool {
  private pending = new Map<number, Pending>();
  private failure: Error | null = null;
  private closed = false;

  private constructor(
    private readonly handles: WorkerHandle[],
    readonly datasetLength: number,
  ) {}

  static async start(n: number, descriptor: WorkerDescriptor, script?: string | URL): Promise<WorkerPool> {
    // In browsers the default script is left to spawn(), which names it the way bundlers see.
    const src = script ?? (isNode() ? defaultScript() : undefined);
    const handles: WorkerHandle[] = [];
    try {
      for (let i = 0; i < n; i++) handles.push(await spawn(src));
    } catch (e) {
      await Promise.all(handles.map((h) => h.terminate()));
      throw new Error(
        `DataLoader: could not start worker script ${String(src ?? "dist/worker.js")}: ${(e as Error).message} (build @minibatch/data, or pass workerScript)`,
      );
    }
    let pool: WorkerPool | null = null;
    const lengths = await Promise.all(
      handles.map(
        (h, i) =>
          new Promise<number>((resolve, reject) => {
            h.onError((e) => {
              const err = new Error(`DataLoader worker ${i}: ${e.message}`);
              if (pool) pool.fail(err);
              else reject(err);
            });
            h.onMessage((m) => {
              if (!pool) {
                if (m.type === "ready") resolve(m.length);
                else if (m.type === "error")
                  reject(new Error(`DataLoader worker ${i} could not build the dataset: ${m.message}`));
                return;
              }
              pool.receive(i, m);
            });
            h.post({ type: "init", descriptor, workerIndex: i });
          }),
      ),
    ).catch(async (e) => {
      await Promise.all(handles.map((h) => h.terminate()));
      throw e;
    });
    pool = new WorkerPool(handles, lengths[0]);
    return pool;
  }

  private fail(e: Error): void {
    if (this.closed) return;
    this.failure ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  private closedAcks: (() => void)[] = [];

  private receive(worker: number, m: FromWorker): void {
    if (m.type === "closed") {
      this.closedAcks[worker]?.();
      return;
    }
    if (m.type === "ready") return;
    const seq = m.seq;
    if (seq === null) return;
    const p = this.pending.get(seq);
    if (!p) return;
    this.pending.delete(seq);
    if (m.type === "error") p.reject(workerError(worker, seq, m));
    else if (m.type === "batch") p.resolve({ host: m.host as HostBatch });
    else p.resolve({ samples: m.samples });
  }

  load(
    seq: number,
    indices: readonly number[],
    raw: boolean,
  ): Promise<{ host: HostBatch } | { samples: unknown[] }> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { resolve: resolve as (v: unknown) => void, reject });
      this.handles[seq % this.handles.length].post({ type: "load", seq, indices: [...indices], raw });
    });
  }

  async terminate(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Let each worker close its files first (worker threads share the process's descriptors);
    // a busy or hung worker is terminated after a short wait regardless.
    await Promise.all(
      this.handles.map(
        (h, i) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 1000);
            this.closedAcks[i] = () => {
              clearTimeout(timer);
              resolve();
            };
            h.post({ type: "close" });
          }),
      ),
    );
    await Promise.all(this.handles.map((h) => h.terminate()));
    for (const p of this.pending.values()) p.reject(new Error("DataLoader: workers were terminated"));
    this.pending.clear();
  }
}
