// The worker-thread entry of `train --parallel`: one run of the Figure 1 pair, on its own core.
// It gets the run's config and the data set, trains exactly as the main thread would (same code,
// same seeds, so the same numbers), and posts progress and the result back.
import { parentPort, workerData } from "node:worker_threads";
import { useBackend } from "./backend";
import type { RunConfig } from "./config";
import { runExperiment } from "./experiment";
import type { MnistData } from "./mnist";

export interface RunProgress {
  type: "progress";
  step: number;
  loss: number | null;
  samplesPerSec: number;
  accuracy: number | null;
}

const { config, data } = workerData as { config: RunConfig; data: MnistData };
const port = parentPort;
if (!port) throw new Error("run-worker: must run in a worker thread");

await useBackend(config.backend);
let loss: number | null = null;
let accuracy: number | null = null;
const result = await runExperiment(config, data, {
  onStep(info, t) {
    if (info.loss !== null) loss = loss === null ? info.loss : 0.9 * loss + 0.1 * info.loss;
    if (info.step % 250 === 0) {
      const samplesPerSec = (t.stepCount * config.batchSize) / Math.max(t.trainSeconds, 1e-9);
      port.postMessage({
        type: "progress",
        step: info.step,
        loss,
        samplesPerSec,
        accuracy,
      } satisfies RunProgress);
    }
  },
  onEval(p) {
    accuracy = p.testAccuracy;
  },
});
port.postMessage({ type: "done", result });
