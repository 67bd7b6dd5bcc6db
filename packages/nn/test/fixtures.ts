import { readFileSync } from "node:fs";
import { type Tensor, tensor, tidy } from "@minibatch/tensor";

/** Reads a JSON fixture written by scripts/fixtures.py (PyTorch reference values). */
export function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8")) as T;
}

export interface TorchInput {
  values: number[];
  shape: number[];
  dtype: "float32" | "int32";
}

export interface TorchCase {
  fn: string;
  title: string;
  inputs: TorchInput[];
  options: Record<string, any>;
  output: { values: number[]; shape: number[] };
  /** Gradients of sum(output * w) per input; null entries are PyTorch NaNs. */
  grads: ((number | null)[] | null)[];
}

/** The weighting of the output the fixtures' gradients use: w[i] = 0.5 + (i·7919 mod 13)/13. */
export function outputWeights(n: number): Float32Array {
  const w = new Float32Array(n);
  for (let i = 0; i < n; i++) w[i] = 0.5 + ((i * 7919) % 13) / 13;
  return w;
}

export function makeInputs(c: TorchCase): Tensor[] {
  return c.inputs.map((x) =>
    x.dtype === "int32"
      ? tensor(Int32Array.from(x.values), x.shape)
      : tensor(Float32Array.from(x.values), x.shape, { requiresGrad: true }),
  );
}

/** Runs `f` on the case's inputs; returns its output values and shape and each float input's gradient. */
export async function runCase(
  c: TorchCase,
  f: (...xs: Tensor[]) => Tensor,
): Promise<{ out: Float32Array; shape: number[]; grads: (Float32Array | null)[] }> {
  const xs = makeInputs(c);
  const y = tidy(() => {
    const out = f(...xs);
    const w = tensor(outputWeights(out.size), out.shape);
    out.mul(w).sum().backward();
    return out;
  });
  const out = (await y.data()) as Float32Array;
  const shape = [...y.shape];
  const grads = await Promise.all(
    xs.map(async (x) => (x.grad ? ((await x.grad.data()) as Float32Array) : null)),
  );
  y.dispose();
  for (const x of xs) {
    x.grad?.dispose();
    x.dispose();
  }
  return { out, shape, grads };
}

/** Tracks the worst absolute difference seen, to report against PyTorch. */
export class WorstError {
  max = 0;
  count = 0;
  add(actual: ArrayLike<number>, expected: ArrayLike<number | null>): void {
    this.count++;
    for (let i = 0; i < expected.length; i++) {
      const e = expected[i];
      if (e !== null) this.max = Math.max(this.max, Math.abs(actual[i] - e));
    }
  }
}
