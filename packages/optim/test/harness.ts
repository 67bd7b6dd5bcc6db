import { type Tensor, tensor } from "@minibatch/tensor";
import { expectClose } from "@minibatch/testing";
import type { Optimizer } from "../src/optimizer";
import type { RefStep } from "./reference";

/** Two parameters of different shapes, float32-exact so the reference starts from the same values. */
export const INIT = [
  [0.5, -1.2, 2.0, 0.1],
  [0.3, -0.7, 1.5],
].map((a) => a.map(Math.fround));
export const SHAPES = [[2, 2], [3]];

/** A fixed, varied gradient for parameter `k` at step `t` (mixed signs and sizes, one exact zero). */
export function gradAt(t: number, k: number): number[] {
  return INIT[k].map((_, i) =>
    k === 0 && i === 3 && t === 0 ? 0 : Math.fround(Math.sin(1 + 1.7 * t + 2.3 * k + 0.9 * i) * (1 + i)),
  );
}

export function makeParams(): Tensor[] {
  return INIT.map((v, k) => tensor(v, SHAPES[k], { requiresGrad: true }));
}

/** Gives every parameter its gradient for step `t`, replacing the previous one. */
export function setGrads(params: Tensor[], t: number): void {
  params.forEach((p, k) => {
    p.grad?.dispose();
    p.grad = tensor(gradAt(t, k), SHAPES[k]);
  });
}

/**
 * Steps the optimizer `steps` times with the fixed gradients and checks every parameter after every
 * step against the float64 reference.
 */
export async function checkAgainstReference(
  make: (params: Tensor[]) => Optimizer<any>,
  ref: () => RefStep,
  tol: { rtol: number; atol: number },
  steps = 4,
): Promise<void> {
  const params = makeParams();
  const opt = make(params);
  const expected = INIT.map((v) => [...v]);
  const refs = INIT.map(() => ref());
  for (let t = 0; t < steps; t++) {
    setGrads(params, t);
    opt.step();
    for (let k = 0; k < params.length; k++) {
      refs[k](expected[k], gradAt(t, k));
      expectClose(await params[k].data(), expected[k], tol, `step ${t + 1}, parameter ${k}`);
    }
  }
  opt.zeroGrad();
  opt.dispose();
  for (const p of params) p.dispose();
}
