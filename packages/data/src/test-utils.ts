import type { Tensor } from "@minibatch/tensor";

/** Values of a tensor as a plain array (tests only). */
export function vals(t: unknown): number[] {
  return [...(t as Tensor).dataSync()];
}

export async function collect<B>(it: AsyncIterable<B>): Promise<B[]> {
  const out: B[] = [];
  for await (const b of it) out.push(b);
  return out;
}
