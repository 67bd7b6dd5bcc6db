import "@minibatch/backend-cpu";
import { crossEntropy } from "@minibatch/nn";
import { SGD } from "@minibatch/optim";
import { fromArray, tidy } from "@minibatch/tensor";
import { afterAll, describe, expect, inject, it } from "vitest";
import { DataParallel } from "../src/data-parallel";
import { buildModel, type Kind, makeData } from "./models";

const STEPS = 5;
const BATCH = 16;
const SEED = 7;
const LR = 0.1;

/** Single-process training on the whole batch: the reference data-parallel training must equal. */
async function reference(kind: Kind, data: Awaited<ReturnType<typeof makeData>>) {
  const model = buildModel(kind, SEED);
  const opt = new SGD(model.parameters(), { lr: LR, momentum: 0.9 });
  const row = data.x.length / data.y.length;
  const losses: number[] = [];
  for (let s = 0; s < STEPS; s++) {
    const l = tidy(() => {
      const x = fromArray(
        data.x.slice(s * BATCH * row, (s + 1) * BATCH * row),
        [BATCH, ...data.xShape.slice(1)],
        "float32",
      );
      const y = fromArray(data.y.slice(s * BATCH, (s + 1) * BATCH), [BATCH], "int32");
      const loss = crossEntropy(model.call(x), y);
      loss.backward();
      return loss.dataSync()[0];
    });
    losses.push(l);
    opt.step();
    opt.zeroGrad();
  }
  const state: Record<string, Float32Array | Int32Array> = {};
  for (const [k, t] of Object.entries(model.stateDict())) state[k] = t.dataSync().slice() as Float32Array;
  model.dispose();
  return { state, losses };
}

async function parallel(
  kind: Kind,
  workers: number,
  syncBatchNorm: boolean,
  data: Awaited<ReturnType<typeof makeData>>,
) {
  const dp = await DataParallel.start({
    script: inject("replicaScript"),
    workers,
    syncBatchNorm,
    options: { kind, seed: SEED, lr: LR },
  });
  try {
    const row = data.x.length / data.y.length;
    const losses: number[] = [];
    for (let s = 0; s < STEPS; s++) {
      const r = await dp.step(
        {
          data: data.x.slice(s * BATCH * row, (s + 1) * BATCH * row),
          shape: [BATCH, ...data.xShape.slice(1)],
        },
        { data: data.y.slice(s * BATCH, (s + 1) * BATCH), shape: [BATCH] },
      );
      losses.push(r.loss);
    }
    const st = await dp.stateDict();
    return { state: Object.fromEntries(Object.entries(st).map(([k, v]) => [k, v.data])), losses };
  } finally {
    await dp.close();
  }
}

/** The largest |a - b| over every parameter and buffer, and where. */
function worst(a: Record<string, ArrayLike<number>>, b: Record<string, ArrayLike<number>>) {
  expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
  let max = 0;
  let at = "";
  for (const k of Object.keys(a)) {
    for (let i = 0; i < a[k].length; i++) {
      const d = Math.abs(a[k][i] - b[k][i]);
      if (d > max) {
        max = d;
        at = k;
      }
    }
  }
  return { max, at };
}

const report: string[] = [];
afterAll(() => {
  // The figures for the report: worst weight difference after STEPS steps.
  console.log(`data-parallel vs single process, ${STEPS} SGD steps, batch ${BATCH}:\n${report.join("\n")}`);
});

describe.each(["mlp", "cnn"] as Kind[])(
  "%s: data-parallel training vs one process on the whole batch",
  (kind) => {
    it("with SyncBatchNorm over 2 and 4 workers equals single-process training within float32 rounding", async () => {
      const data = await makeData(kind, STEPS * BATCH, 11);
      const ref = await reference(kind, data);
      for (const workers of [2, 4]) {
        const dp = await parallel(kind, workers, true, data);
        const w = worst(ref.state, dp.state);
        report.push(
          `${kind} ${workers} workers, SyncBatchNorm: worst difference ${w.max.toExponential(2)} (${w.at})`,
        );
        expect(w.max).toBeLessThan(2e-5);
        for (let s = 0; s < STEPS; s++) expect(dp.losses[s]).toBeCloseTo(ref.losses[s], 5);
        // The running statistics track the global batch: numBatchesTracked counts steps, not shares.
        const tracked = Object.entries(dp.state).find(([k]) => k.endsWith("numBatchesTracked"))!;
        expect(tracked[1][0]).toBe(STEPS);
      }
    });

    it("without SyncBatchNorm each replica normalizes its own share, and the weights drift apart from the reference", async () => {
      const data = await makeData(kind, STEPS * BATCH, 11);
      const ref = await reference(kind, data);
      const dp = await parallel(kind, 2, false, data);
      const w = worst(ref.state, dp.state);
      report.push(
        `${kind} 2 workers, per-replica BatchNorm: worst difference ${w.max.toExponential(2)} (${w.at})`,
      );
      expect(w.max).toBeGreaterThan(1e-3);
    });

    it("one worker equals the reference", async () => {
      const data = await makeData(kind, STEPS * BATCH, 11);
      const ref = await reference(kind, data);
      const dp = await parallel(kind, 1, true, data);
      const w = worst(ref.state, dp.state);
      report.push(`${kind} 1 worker: worst difference ${w.max.toExponential(2)} (${w.at})`);
      expect(w.max).toBeLessThan(2e-5);
    });
  },
);
