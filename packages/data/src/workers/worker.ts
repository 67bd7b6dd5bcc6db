/**
 * The worker thread's entry: rebuilds the dataset once, then answers load requests with collated
 * host batches whose buffers are transferred, not copied. Runs under Node worker_threads or as a
 * module Web Worker.
 */
import { collateHost, isTensorLike, transferables } from "../collate-host";
import { getMany, type MapStyleDataset } from "../datasets";
import type { FromWorker, ToWorker } from "./protocol";
import { reviveDataset } from "./revive";

interface Port {
  post(msg: FromWorker, transfer?: ArrayBuffer[]): void;
  onMessage(fn: (msg: ToWorker) => void): void;
}

async function getPort(): Promise<Port> {
  const isNode = typeof process !== "undefined" && !!process.versions?.node;
  if (isNode) {
    const wt = "node:worker_threads";
    const { parentPort } = (await import(/* @vite-ignore */ wt)) as typeof import("node:worker_threads");
    if (!parentPort) throw new Error("@minibatch/data worker: not running in a worker thread");
    return {
      post: (m, t) => parentPort.postMessage(m, t ?? []),
      onMessage: (fn) => parentPort.on("message", fn),
    };
  }
  const self = globalThis as unknown as {
    postMessage(m: unknown, t?: Transferable[]): void;
    addEventListener(type: "message", fn: (e: MessageEvent) => void): void;
  };
  return {
    post: (m, t) => self.postMessage(m, t ?? []),
    onMessage: (fn) => self.addEventListener("message", (e) => fn(e.data)),
  };
}

function hasTensor(x: unknown): boolean {
  if (isTensorLike(x)) return true;
  if (Array.isArray(x)) return x.some(hasTensor);
  if (x && typeof x === "object" && Object.getPrototypeOf(x) === Object.prototype)
    return Object.values(x).some(hasTensor);
  return false;
}

/** Closes the files a rebuilt dataset holds open (IdxDataset), through Subset/Concat/Zip. */
async function closeDataset(ds: unknown): Promise<void> {
  if (!ds || typeof ds !== "object") return;
  const d = ds as { close?: () => unknown; source?: unknown; datasets?: unknown[] };
  if (typeof d.close === "function") await d.close();
  if (d.source) await closeDataset(d.source);
  if (Array.isArray(d.datasets)) for (const x of d.datasets) await closeDataset(x);
}

async function main(): Promise<void> {
  const port = await getPort();
  let dataset: Promise<MapStyleDataset> | null = null;
  // Requests are answered one at a time, in arrival order, so a worker never holds more than the
  // batches the main thread asked for.
  let chain: Promise<void> = Promise.resolve();
  port.onMessage((msg) => {
    if (msg.type === "init") {
      dataset = reviveDataset(msg.descriptor);
      dataset.then(
        (ds) => port.post({ type: "ready", length: ds.length }),
        (e: Error) => port.post({ type: "error", seq: null, message: e.message, stack: e.stack }),
      );
      return;
    }
    if (msg.type === "close") {
      chain = chain.then(async () => {
        try {
          if (dataset) await closeDataset(await dataset);
        } catch {
          // Closing is best effort: the worker is about to be terminated anyway.
        }
        port.post({ type: "closed" });
      });
      return;
    }
    chain = chain.then(async () => {
      try {
        const ds = await dataset!;
        const samples = await getMany(ds, msg.indices);
        if (samples.some(hasTensor)) {
          throw new Error(
            "a sample holds a Tensor; samples built in worker threads must use typed arrays, NDArrays and numbers (tensors are made on the main thread)",
          );
        }
        if (msg.raw) {
          port.post({ type: "samples", seq: msg.seq, samples });
        } else {
          const host = collateHost(samples);
          port.post({ type: "batch", seq: msg.seq, host }, transferables(host));
        }
      } catch (e) {
        const err = e as Error;
        port.post({
          type: "error",
          seq: msg.seq,
          message: err?.message ?? String(e),
          stack: err?.stack,
          sampleIndex: (err as { sampleIndex?: number })?.sampleIndex,
        });
      }
    });
  });
}

main();
