import { noGrad, type Tensor, tensor, tidy } from "@minibatch/tensor";

/**
 * Compares autograd gradients of sum(f(inputs) * w) (w a fixed random weighting, so every output
 * element matters) with central finite differences computed in float64 around float32 inputs.
 * Returns the worst error; throws naming the input and element when above tolerance.
 */
export async function gradCheck(
  f: (...xs: Tensor[]) => Tensor,
  inputs: (number[] | Float32Array)[][] | { values: ArrayLike<number>; shape: number[] }[],
  opts: { eps?: number; rtol?: number; atol?: number } = {},
): Promise<number> {
  const eps = opts.eps ?? 1e-2;
  const rtol = opts.rtol ?? 2e-2;
  const atol = opts.atol ?? 2e-3;
  const specs = (inputs as any[]).map((x) =>
    "values" in x ? { values: Float64Array.from(x.values), shape: x.shape } : asSpec(x),
  );
  const weights: Float32Array[] = [];
  const evalAt = async (vals: Float64Array[]): Promise<number> => {
    const out = tidy(() => {
      const xs = vals.map((v, i) => tensor(Float32Array.from(v), specs[i].shape));
      return noGrad(() => f(...xs));
    });
    const y = await out.data();
    out.dispose();
    if (!weights[0]) {
      const w = new Float32Array(y.length);
      for (let i = 0; i < w.length; i++) w[i] = 0.5 + ((i * 7919) % 13) / 13;
      weights[0] = w;
    }
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i] * weights[0][i];
    return s;
  };
  const base = specs.map((s) => s.values);
  await evalAt(base);
  // Analytic gradients.
  const xs = base.map((v, i) => tensor(Float32Array.from(v), specs[i].shape, { requiresGrad: true }));
  const analytic = await tidy(async () => {
    const y = f(...xs);
    const w = tensor(weights[0], y.shape);
    y.mul(w).sum().backward();
    return Promise.all(xs.map(async (x) => (x.grad ? await x.grad.data() : new Float32Array(x.size))));
  });
  for (const x of xs) {
    x.grad?.dispose();
    x.dispose();
  }
  let worst = 0;
  for (let k = 0; k < base.length; k++) {
    for (let i = 0; i < base[k].length; i++) {
      const plus = base.map((v) => Float64Array.from(v));
      const minus = base.map((v) => Float64Array.from(v));
      plus[k][i] += eps;
      minus[k][i] -= eps;
      const num = ((await evalAt(plus)) - (await evalAt(minus))) / (2 * eps);
      const an = analytic[k][i];
      const err = Math.abs(num - an);
      worst = Math.max(worst, err / (atol + rtol * Math.abs(num)));
      if (err > atol + rtol * Math.abs(num)) {
        throw new Error(`gradCheck: input ${k} element ${i}: autograd ${an}, finite differences ${num}`);
      }
    }
  }
  return worst;
}

function asSpec(x: (number[] | Float32Array)[] | number[]): { values: Float64Array; shape: number[] } {
  const shape: number[] = [];
  let cur: any = x;
  while (Array.isArray(cur) || cur instanceof Float32Array) {
    shape.push(cur.length);
    cur = cur[0];
  }
  const flat = (x as any[]).flat(Number.POSITIVE_INFINITY) as number[];
  return { values: Float64Array.from(flat), shape };
}
