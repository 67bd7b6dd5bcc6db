import { defaultGenerator, Generator } from "@minibatch/tensor";

function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * A generator for epoch `epoch` of a run seeded with `seed`. Hashing both (rather than adding)
 * keeps (seed 1, epoch 0) and (seed 0, epoch 1) apart.
 */
export function epochGenerator(seed: number, epoch: number): Generator {
  const s = mix32((seed >>> 0) ^ mix32(Math.floor(seed / 2 ** 32) + 0x9e3779b9));
  return new Generator(
    mix32(s ^ mix32((epoch >>> 0) + 0x632be5ab)) + 2 ** 32 * (epoch >>> 0 === epoch ? 0 : 1),
  );
}

/** A seed drawn from the default generator, so `manualSeed()` makes unseeded loaders reproducible. */
export function drawSeed(): number {
  return defaultGenerator.nextUint32();
}

export function checkSeed(seed: unknown, who: string): void {
  if (seed !== undefined && (typeof seed !== "number" || !Number.isInteger(seed) || seed < 0)) {
    throw new Error(`${who}: seed must be a non-negative integer, got ${String(seed)}`);
  }
}
