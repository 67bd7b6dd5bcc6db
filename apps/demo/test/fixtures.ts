import type { RunResult } from "../src/config";

/** A made-up run: accuracies and medians per evaluation, 50 steps apart. */
export function fakeRun(
  name: string,
  norm: RunResult["norm"],
  label: string,
  accuracies = [0.1, 0.5, 0.9],
  p50s = [0, 0, 0],
): RunResult {
  const curve = accuracies.map((acc, i) => ({
    step: i * 50,
    testAccuracy: acc,
    trainModeAccuracy: acc,
    loss: i === 0 ? Number.NaN : 1 / i,
    p15: p50s[i] - 1 - i,
    p50: p50s[i],
    p85: p50s[i] + 1 + i,
    gamma: norm === "batch" ? 1 + 0.1 * i : null,
    beta: norm === "batch" ? -0.1 * i : null,
    preMean: 0.5,
    preStd: 2,
    trainSeconds: i,
  }));
  return {
    name,
    label,
    model: "mlp",
    norm,
    backend: "cpu",
    steps: (accuracies.length - 1) * 50,
    batchSize: 60,
    lr: 0.5,
    seed: 1,
    trainSamplesPerSec: 3000,
    trainSeconds: 2,
    testAccuracy: accuracies.at(-1)!,
    trainModeAccuracy: accuracies.at(-1)!,
    peakTensors: 1,
    testImages: 10000,
    diverged: false,
    peakTensorBytes: 1,
    curve,
  };
}
