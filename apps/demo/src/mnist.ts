import { type ByteSource, streamIdx } from "@minibatch/data";

/** MNIST held as flat host arrays: images [N, 784] scaled to [0, 1], labels [N] as int32. */
export interface MnistSplit {
  images: Float32Array;
  labels: Int32Array;
  count: number;
}

export interface MnistData {
  train: MnistSplit;
  test: MnistSplit;
}

/**
 * Reads up to `limit` records of an IDX file with @minibatch/data's streaming reader (works on a
 * Node.js file stream and on a `fetch` response alike; gzip is inflated by the reader).
 */
export async function readIdxRecords(
  source: ByteSource,
  opts: { name: string; scale?: number; limit?: number; shared?: boolean },
): Promise<{ data: Float32Array | Int32Array; count: number; recordSize: number }> {
  const limit = opts.limit ?? Number.POSITIVE_INFINITY;
  let out: Float32Array | Int32Array | null = null;
  let count = 0;
  let recordSize = 0;
  for await (const batch of streamIdx(source, {
    name: opts.name,
    batchSize: 4096,
    ...(opts.scale !== undefined ? { scale: opts.scale } : { dtype: "int32" as const }),
  })) {
    const total = Math.min(limit, batch.header.dims[0]);
    recordSize = batch.header.recordSize;
    if (!out) {
      // Shared memory crosses to worker threads (--parallel) without a copy.
      const bytes = total * recordSize * 4;
      const buffer = opts.shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
      out = opts.scale !== undefined ? new Float32Array(buffer) : new Int32Array(buffer);
    }
    const take = Math.min(batch.count, total - count);
    out.set(
      (batch.data.data as Float32Array | Int32Array).subarray(0, take * recordSize),
      count * recordSize,
    );
    count += take;
    // Leaving the loop cancels the stream, so a subset does not read the whole file.
    if (count >= total) break;
  }
  if (!out) throw new Error(`${opts.name}: the IDX file holds no records`);
  return { data: out, count, recordSize };
}

/** One split from its images and labels sources. */
export async function readMnistSplit(
  images: ByteSource,
  labels: ByteSource,
  names: { images: string; labels: string },
  limit?: number,
  shared = false,
): Promise<MnistSplit> {
  const [img, lab] = await Promise.all([
    readIdxRecords(images, { name: names.images, scale: 1 / 255, limit, shared }),
    readIdxRecords(labels, { name: names.labels, limit, shared }),
  ]);
  if (img.recordSize !== 784)
    throw new Error(`${names.images}: expected 28x28 images, got records of ${img.recordSize} values`);
  if (img.count !== lab.count) {
    throw new Error(`${names.images} has ${img.count} images but ${names.labels} has ${lab.count} labels`);
  }
  return { images: img.data as Float32Array, labels: lab.data as Int32Array, count: img.count };
}

export const MNIST_FILES = {
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte",
  testLabels: "t10k-labels-idx1-ubyte",
} as const;
