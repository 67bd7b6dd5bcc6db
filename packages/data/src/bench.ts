export interface EpochTiming {
  batches: number;
  samples: number;
  seconds: number;
  samplesPerSecond: number;
}

/**
 * Runs one epoch of a loader, disposing what it yields, and times it: the measure a loader
 * benchmark needs (compare `workers`, `prefetch` and `preload` settings on the same dataset).
 */
export async function timeEpoch(loader: AsyncIterable<unknown>): Promise<EpochTiming> {
  let batches = 0;
  let samples = 0;
  const t0 = performance.now();
  for await (const batch of loader) {
    batches++;
    samples += leadingSize(batch);
    disposeAll(batch);
  }
  const seconds = (performance.now() - t0) / 1000;
  return { batches, samples, seconds, samplesPerSecond: seconds > 0 ? samples / seconds : 0 };
}

function isTensor(x: unknown): x is { shape: readonly number[]; dispose(): void } {
  return (
    typeof x === "object" &&
    x !== null &&
    "dataId" in x &&
    typeof (x as { dispose?: unknown }).dispose === "function"
  );
}

function leadingSize(x: unknown): number {
  if (isTensor(x)) return x.shape[0] ?? 1;
  if (Array.isArray(x)) return x.length > 0 ? leadingSize(x[0]) : 0;
  if (x && typeof x === "object") {
    const first = Object.values(x)[0];
    return first === undefined ? 0 : leadingSize(first);
  }
  return 1;
}

function disposeAll(x: unknown): void {
  if (isTensor(x)) x.dispose();
  else if (Array.isArray(x)) for (const v of x) disposeAll(v);
  else if (x && typeof x === "object" && Object.getPrototypeOf(x) === Object.prototype) {
    for (const v of Object.values(x)) disposeAll(v);
  }
}
