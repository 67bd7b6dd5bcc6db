import { type Tensor, tensor } from "@minibatch/tensor";
import { describeBackends, expectClose, gradCheck, tolerance } from "@minibatch/testing";
import { expect, it } from "vitest";
import { GroupNorm, InstanceNorm1d, LayerNorm } from "./index";
import { randomValues, refRows } from "./test-helpers";

const read = async (t: Tensor | null) => Array.from(await t!.data());

describeBackends("GroupNorm", (backend) => {
  const tol = tolerance(backend);

  it("normalizes each sample's group over its channels and positions; affine per channel", async () => {
    const shape = [2, 6, 3];
    const xs = randomValues(36, 31, 2, 1);
    const w = [1, 2, 3, 4, 5, 6];
    const b = [6, 5, 4, 3, 2, 1].map((v) => v / 10);
    const gn = new GroupNorm(3, 6);
    gn.weight!.assign(tensor(w));
    gn.bias!.assign(tensor(b));
    const y = await read(gn.call(tensor(xs, shape)));
    const ref = refRows(xs, 6, 1e-5); // 2 channels x 3 positions per group
    expectClose(
      y,
      ref.map((v, i) => v * w[Math.floor(i / 3) % 6] + b[Math.floor(i / 3) % 6]),
      tol,
      "y",
    );
  });

  it("one group equals LayerNorm over (C, *); C groups equals InstanceNorm", async () => {
    const xs = randomValues(24, 2, 3);
    const x = () => tensor(xs, [2, 4, 3]);
    const one = await read(new GroupNorm(1, 4).call(x()));
    expectClose(one, await read(new LayerNorm([4, 3], { elementwiseAffine: false }).call(x())), tol, "G = 1");
    const all = await read(new GroupNorm(4, 4).call(x()));
    expectClose(all, await read(new InstanceNorm1d(4).call(x())), tol, "G = C");
  });

  it("errors when channels do not divide into groups, or mismatch", () => {
    expect(() => new GroupNorm(4, 6)).toThrow(
      "GroupNorm: numChannels (6) must be divisible by numGroups (4)",
    );
    expect(() => new GroupNorm(2, 4).call(tensor(new Float32Array(12), [2, 6]))).toThrow(
      /expected 4 channels/,
    );
    expect(new GroupNorm(2, 4, { affine: false }).parameters()).toEqual([]);
  });

  it("gradients match finite differences", async () => {
    const gn = new GroupNorm(2, 4);
    gn.weight!.assign(tensor([1, -2, 0.5, 3]));
    await gradCheck((x: Tensor) => gn.call(x), [{ values: randomValues(32, 5, 2), shape: [2, 4, 2, 2] }]);
  });
});
