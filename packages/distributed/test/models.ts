import { Conv2d, Flatten, Linear, MaxPool2d, type Module, ReLU, Sequential, Sigmoid } from "@minibatch/nn";
import { manualSeed, randint, randn } from "@minibatch/tensor";
import { SyncBatchNorm } from "../src/sync-batchnorm";

export type Kind = "mlp" | "cnn";

/**
 * The two models of the equality tests, with SyncBatchNorm where BatchNorm1d/2d would be (it is
 * plain batch norm until a group is set). Same seed, same weights.
 */
export function buildModel(kind: Kind, seed: number): Module {
  manualSeed(seed);
  if (kind === "mlp") {
    return new Sequential(
      new Linear(12, 16),
      new SyncBatchNorm(16),
      new Sigmoid(),
      new Linear(16, 16),
      new SyncBatchNorm(16, { momentum: null }),
      new Sigmoid(),
      new Linear(16, 4),
    );
  }
  return new Sequential(
    new Conv2d(2, 4, 3, { padding: 1 }),
    new SyncBatchNorm(4),
    new ReLU(),
    new MaxPool2d(2),
    new Conv2d(4, 6, 3),
    new SyncBatchNorm(6),
    new ReLU(),
    new Flatten(),
    new Linear(6 * 2 * 2, 3),
  );
}

/** A global batch of `steps * batch` samples for `kind`, fixed by `seed`. */
export async function makeData(kind: Kind, n: number, seed: number) {
  manualSeed(seed);
  const xShape = kind === "mlp" ? [n, 12] : [n, 2, 8, 8];
  const classes = kind === "mlp" ? 4 : 3;
  const x = randn(xShape);
  // Shift and scale the inputs per feature so the batch statistics matter.
  const y = randint(0, classes, [n]);
  const xs = Float32Array.from(await x.data(), (v, i) => v * (1 + (i % 3)) + (i % 5) - 2);
  const ys = (await y.data()) as Int32Array;
  x.dispose();
  y.dispose();
  return { x: xs, xShape, y: Int32Array.from(ys) };
}
