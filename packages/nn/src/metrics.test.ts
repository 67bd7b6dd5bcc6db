import { tensor } from "@minibatch/tensor";
import { describeBackends } from "@minibatch/testing";
import { expect, it } from "vitest";
import { accuracy, ConfusionMatrix, RunningAverage, RunningMean } from "./metrics";

const int = (xs: number[], shape?: number[]) => tensor(Int32Array.from(xs), shape ?? [xs.length]);

describeBackends("metrics", () => {
  const makeLogits = () =>
    tensor([
      [2, 1, 0],
      [0, 3, 1],
      [0, 1, 5],
      [4, 0, 0],
    ]);

  it("accuracy from logits or from predictions", async () => {
    const logits = makeLogits();
    expect(await accuracy(logits, int([0, 1, 2, 2]))).toBe(0.75);
    expect(await accuracy(int([1, 1, 0]), int([1, 0, 0]))).toBeCloseTo(2 / 3, 12);
    // [N, C, d]: the class axis is 1.
    const seg = tensor([
      [
        [1, 0],
        [0, 1],
      ],
    ]);
    expect(await accuracy(seg, int([0, 0], [1, 2]))).toBe(0.5);
    await expect(accuracy(logits, tensor([0, 1, 2, 2]))).rejects.toThrow(/labels must be int32/);
    await expect(accuracy(logits, int([0, 1]))).rejects.toThrow(/shape without axis 1/);
    await expect(accuracy(tensor([0, 1]), int([0, 1]))).rejects.toThrow(/int32 predicted classes/);
  });

  it("ConfusionMatrix accumulates batches; precision, recall, f1 and toString", async () => {
    const logits = makeLogits();
    const cm = new ConfusionMatrix(3);
    await cm.update(logits, int([0, 1, 2, 2])); // predicted 0, 1, 2, 0
    await cm.update(int([1, 1]), int([0, 1]));
    expect(cm.matrix).toEqual([
      [1, 1, 0],
      [0, 2, 0],
      [1, 0, 1],
    ]);
    expect(cm.total).toBe(6);
    expect(cm.accuracy()).toBeCloseTo(4 / 6, 12);
    expect(cm.precision()).toEqual([0.5, 2 / 3, 1]);
    expect(cm.recall()).toEqual([0.5, 1, 0.5]);
    expect(cm.f1()[1]).toBeCloseTo(0.8, 12);
    const s = cm.toString();
    expect(s).toContain("ConfusionMatrix(3 classes, 6 samples, accuracy 0.6667)");
    expect(s).toContain("class 2: precision 1.0000, recall 0.5000");
    expect(() => cm.updateFromArrays([0], [3])).toThrow(
      /label 3 at position 0 is out of range for 3 classes/,
    );
    // An unseen class reads 0, not NaN.
    expect(new ConfusionMatrix(2).updateFromArrays([0], [0]).recall()).toEqual([1, 0]);
    cm.reset();
    expect(cm.total).toBe(0);
  });

  it("RunningMean weights by batch size; RunningAverage smooths exponentially", () => {
    const m = new RunningMean();
    expect(m.value).toBeNaN();
    m.update(1, 10).update(4, 20);
    expect(m.value).toBe(3);
    expect(m.count).toBe(30);
    const a = new RunningAverage(0.5);
    a.update(4).update(2).update(0);
    expect(a.value).toBe(1.5);
    expect(() => new RunningAverage(1)).toThrow(/alpha/);
  });
});
