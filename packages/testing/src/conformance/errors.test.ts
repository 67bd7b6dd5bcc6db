import * as mb from "@minibatch/tensor";
import { expect, it } from "vitest";
import { describeConformance } from "../index";

describeConformance("conformance: errors name the op, the shapes and what was expected", () => {
  it("mismatched shapes", () => {
    expect(() => mb.add(mb.zeros([2, 3]), mb.zeros([4]))).toThrow(
      /add: shapes \[2, 3\] and \[4\] cannot be broadcast/,
    );
    expect(() => mb.matmul(mb.zeros([2, 3]), mb.zeros([4, 2]))).toThrow(
      /matmul: inner dimensions must agree, got \[2, 3\] @ \[4, 2\]/,
    );
    expect(() => mb.mm(mb.zeros([2, 3]), mb.zeros([2, 3]), false, false)).toThrow(
      /mm: inner dimensions must agree, got \[2, 3\] @ \[2, 3\] \(3 vs 2\)/,
    );
    expect(() => mb.mm(mb.zeros([2, 3]), mb.zeros([1, 3, 2]), false, false)).toThrow(
      /mm: expected two matrices or two rank-3 batches of them, got shapes \[2, 3\] and \[1, 3, 2\]/,
    );
    expect(() => mb.mm(mb.zeros([2, 2, 3]), mb.zeros([3, 3, 2]), false, false)).toThrow(
      /mm: batch sizes 2 and 3 differ and neither is 1/,
    );
    expect(mb.mm(mb.zeros([2, 3]), mb.zeros([4, 3]), false, true).shape).toEqual([2, 4]);
    expect(() => mb.reshape(mb.zeros([2, 3]), [4, 2])).toThrow(
      /reshape: cannot reshape a tensor of shape \[2, 3\]/,
    );
    expect(() => mb.concat([mb.zeros([2, 3]), mb.zeros([3, 3])], 1)).toThrow(
      /concat: shapes \[2, 3\], \[3, 3\]/,
    );
    expect(() => mb.conv2d(mb.zeros([1, 3, 4, 4]), mb.zeros([2, 2, 3, 3]))).toThrow(
      /conv2d: weight \[2, 2, 3, 3\] expects 2 input channels/,
    );
    // Options in the bias slot (the PyTorch argument order is input, weight, bias, options).
    expect(() =>
      mb.conv2d(mb.zeros([1, 1, 4, 4]), mb.zeros([1, 1, 3, 3]), { stride: 2 } as unknown as mb.Tensor),
    ).toThrow(/conv2d: bias must be a Tensor or null, got \{"stride":2\}; options go fourth/);
  });
  it("integer arguments are checked in the core, never floored", () => {
    const img = mb.zeros([1, 1, 4, 4]);
    expect(() => mb.conv2d(img, mb.zeros([1, 1, 2, 2]), null, { stride: 1.5 })).toThrow(
      /conv2d: stride must be positive integers, got \[1.5, 1.5\]/,
    );
    expect(() => mb.conv2d(img, mb.zeros([1, 1, 2, 2]), null, { padding: [0, Number.NaN] })).toThrow(
      /conv2d: padding must be non-negative integers, got \[0, NaN\]/,
    );
    expect(() => mb.conv2d(img, mb.zeros([1, 1, 0, 0]))).toThrow(/conv2d: the kernel must be at least 1x1/);
    expect(() => mb.maxPool2d(img, 1.5)).toThrow(
      /maxPool2d: kernel size must be positive integers, got \[1.5, 1.5\]/,
    );
    expect(() => mb.avgPool2d(img, 2, { stride: 0 })).toThrow(/avgPool2d: stride must be positive integers/);
    expect(() => mb.sum(mb.zeros([2, 3]), 0.5)).toThrow(/sum: axis 0.5 is out of range/);
    const x = mb.zeros([4, 4]);
    const before = mb.memory();
    expect(() => mb.slice(x, [1.5, 0])).toThrow(/slice: begin must be integers, got \[1.5, 0\]/);
    expect(() => mb.slice(x, [Number.NaN, 0], [1, 1])).toThrow(
      /slice: begin must be integers, got \[NaN, 0\]/,
    );
    expect(() => mb.slice(x, [0, 0], [2, -2])).toThrow(
      /slice: size \(-1 for the rest\) must be integers >= -1/,
    );
    expect(() => mb.narrow(x, 0, 0.5, 2)).toThrow(/narrow: start must be integers, got 0.5/);
    expect(() => mb.narrow(x, 1, 0, 1.5)).toThrow(/narrow: length must be non-negative integers, got 1.5/);
    // Nothing was made by the failed calls, and the accounting stays a number.
    expect(mb.memory().tensors).toBe(before.tensors);
    expect(mb.memory().bytes).toBe(before.bytes);
    x.dispose();
  });
  it("unknown options are errors with a hint", () => {
    const img = mb.zeros([1, 1, 4, 4]);
    expect(() =>
      mb.conv2d(img, mb.zeros([1, 1, 2, 2]), null, { strides: 2 } as unknown as mb.Conv2dOptions),
    ).toThrow(/conv2d: unknown option 'strides' in the options; did you mean 'stride'\?/);
    expect(() => mb.maxPool2d(img, 2, { ceilMode: true } as unknown as mb.Pool2dOptions)).toThrow(
      /maxPool2d: unknown option 'ceilMode'/,
    );
  });
  it("bad axes", () => {
    expect(() => mb.sum(mb.zeros([2, 3]), 2)).toThrow(/sum: axis 2 is out of range for a tensor of rank 2/);
    expect(() => mb.softmax(mb.zeros([2]), -3)).toThrow(/axis -3 is out of range/);
    expect(() => mb.permute(mb.zeros([2, 3]), [0, 0])).toThrow(/permute: \[0, 0\] is not a permutation/);
  });
  it("wrong dtypes", () => {
    expect(() => mb.where(mb.zeros([2]), 1, 0)).toThrow(/where: condition must have dtype bool, got float32/);
    expect(() => mb.indexSelect(mb.zeros([3]), 0, mb.zeros([1]))).toThrow(
      /indexSelect: indices must be int32, got float32/,
    );
    expect(() => mb.zeros([2], { dtype: "int32" }).requiresGrad_()).toThrow(
      /only float32 tensors can require gradients, got int32/,
    );
    expect(() => mb.tensor([1.5], { dtype: "int32" })).toThrow(/not an integer/);
  });
  it("reading a disposed tensor", async () => {
    const t = mb.ones([2, 2]);
    t.dispose();
    await expect(t.data()).rejects.toThrow(/data: tensor #\d+ of shape \[2, 2\] was already disposed/);
    expect(() => mb.add(t, 1)).toThrow(/add: tensor #\d+ of shape \[2, 2\] was already disposed/);
  });
  it("backward on a non-scalar without a gradient", () => {
    const x = mb.ones([3], { requiresGrad: true });
    expect(() => x.mul(2).backward()).toThrow(
      /backward: a gradient can only be created implicitly for a scalar output, got shape \[3\]/,
    );
    expect(() => mb.ones([2]).sum().backward()).toThrow(/does not require a gradient/);
  });
  it("backward after the tidy that built the graph has ended", () => {
    const x = mb.ones([3], { requiresGrad: true });
    const y = mb.tidy(() => x.mul(2).exp().sum());
    expect(() => y.backward()).toThrow(
      /backward: a tensor saved for the gradient of .* was already disposed .*call backward\(\) inside the tidy\(\)/,
    );
  });
  it("typed arrays of the tensor's dtype are copied in bulk, and copied", async () => {
    const f = Float32Array.from([1.5, -2, 3]);
    const i = Int32Array.from([7, -8]);
    const tf = mb.tensor(f);
    const ti = mb.tensor(i);
    f[0] = 99;
    i[0] = 99;
    expect(Array.from(await tf.data())).toEqual([1.5, -2, 3]);
    expect(Array.from(await ti.data())).toEqual([7, -8]);
    expect(ti.dtype).toBe("int32");
    const asFloat = mb.tensor(Int32Array.from([1, 2]), { dtype: "float32" });
    expect(Array.from(await asFloat.data())).toEqual([1, 2]);
    expect(() => mb.tensor(Float32Array.from([1.5]), { dtype: "int32" })).toThrow(/not an integer/);
    mb.dispose([tf, ti, asFloat]);
  });
  it("ragged nested arrays and bad values", () => {
    expect(() => mb.tensor([[1, 2], [3]])).toThrow(
      /ragged nested array: \[1\] has length 1, expected length 2/,
    );
    expect(() => mb.tensor([1, 2, 3], [2, 2])).toThrow(/3 values cannot fill shape \[2, 2\]/);
  });
  it("batch norm with one value per channel in training", () => {
    expect(() => mb.batchNormTrain(mb.ones([1, 3]), null, null)).toThrow(
      /expected more than 1 value per channel when training, got input of shape \[1, 3\]/,
    );
    expect(() => mb.batchNormTrain(mb.ones([1, 3, 1, 1]), null, null)).toThrow(
      /more than 1 value per channel/,
    );
    expect(() => mb.batchNormTrain(mb.ones([1, 3, 2]), null, null)).not.toThrow();
  });
});
