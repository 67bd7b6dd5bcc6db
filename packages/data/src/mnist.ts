import { join } from "node:path";
import { checkOptionKeys } from "@minibatch/tensor";
import { ZipDataset } from "./datasets";
import type { NDArray } from "./ndarray";
import { IdxDataset } from "./readers/idx-file";

export interface MnistOptions {
  /** "train" (60,000) or "test" (10,000). Default "train". */
  split?: "train" | "test";
  /** Flatten images to [784] (default false: [28, 28]). */
  flatten?: boolean;
  /** Read the files into memory up front (default true; 55 MB for train), instead of per-record disk reads. */
  preload?: boolean;
}

/**
 * MNIST from its four IDX files in `dir` (train-images-idx3-ubyte, ...; a `.gz` suffix is not
 * supported here because random access needs the raw files). Samples are records
 * `{ image, label }`: image float32 in [0, 1], label an int32 scalar.
 */
export async function openMnist(
  dir: string,
  opts: MnistOptions = {},
): Promise<ZipDataset<{ image: NDArray; label: NDArray }>> {
  checkOptionKeys("openMnist", opts, ["split", "flatten", "preload"]);
  const split = opts.split ?? "train";
  // Anything but "train" used to open the test set: a typo must not silently swap the data.
  if (split !== "train" && split !== "test") {
    throw new Error(`openMnist: split must be 'train' or 'test', got ${JSON.stringify(split)}`);
  }
  const prefix = split === "train" ? "train" : "t10k";
  const images = await IdxDataset.open(join(dir, `${prefix}-images-idx3-ubyte`), {
    scale: 1 / 255,
    recordShape: opts.flatten ? [784] : undefined,
    preload: opts.preload ?? true,
  });
  const labels = await IdxDataset.open(join(dir, `${prefix}-labels-idx1-ubyte`), {
    dtype: "int32",
    preload: opts.preload ?? true,
  });
  return new ZipDataset([images, labels], ["image", "label"]);
}
