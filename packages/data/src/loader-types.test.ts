import "@minibatch/backend-cpu";
import { type Tensor, tensor } from "@minibatch/tensor";
import { describe, expect, expectTypeOf, it } from "vitest";
import { ArrayDataset, DataLoader, int32Scalar, type NDArray, ndarray, TensorDataset } from "./index";

// The batch type comes from the dataset's sample type through `Collated`, or from `collate`.
// The expectTypeOf lines are checked by the package's typecheck; the values at run time.
describe("DataLoader batch types", () => {
  it("infers batches of records, tuples and tensor datasets", async () => {
    const records = new ArrayDataset([
      { image: ndarray(new Float32Array([1, 2]), [2]), label: 1, name: "a" },
      { image: ndarray(new Float32Array([3, 4]), [2]), label: 0, name: "b" },
    ]);
    for await (const batch of new DataLoader(records, { batchSize: 2 })) {
      expectTypeOf(batch).toEqualTypeOf<{ image: Tensor; label: Tensor; name: string[] }>();
      expect(batch.image.shape).toEqual([2, 2]);
      expect(batch.name).toEqual(["a", "b"]);
      batch.image.dispose();
      batch.label.dispose();
    }

    const pairs = new ArrayDataset<[NDArray, NDArray]>([
      [ndarray(new Float32Array([1]), [1]), int32Scalar(1)],
      [ndarray(new Float32Array([2]), [1]), int32Scalar(0)],
    ]);
    for await (const [x, y] of new DataLoader(pairs, { batchSize: 2 })) {
      expectTypeOf(x).toEqualTypeOf<Tensor>();
      expect([x.shape, y.dtype]).toEqual([[2, 1], "int32"]);
      x.dispose();
      y.dispose();
    }

    const ds = new TensorDataset(tensor([[1], [2]]), tensor(new Int32Array([0, 1])));
    for await (const batch of new DataLoader(ds, { batchSize: 2 })) {
      expectTypeOf(batch).toEqualTypeOf<Tensor[]>();
      expect(batch.map((t) => t.shape)).toEqual([[2, 1], [2]]);
      for (const t of batch) t.dispose();
    }
  });

  it("takes the batch type from a custom collate", async () => {
    const loader = new DataLoader(new ArrayDataset([1, 2, 3]), {
      batchSize: 3,
      collate: (samples) => ({ total: samples.reduce((a, b) => a + b, 0) }),
    });
    for await (const batch of loader) {
      expectTypeOf(batch).toEqualTypeOf<{ total: number }>();
      expect(batch.total).toBe(6);
    }
    // Never called: a wrong use of the batch is a compile error.
    const wrong = async () => {
      for await (const batch of loader) {
        // @ts-expect-error total is a number, not a Tensor
        batch.total.dispose();
      }
    };
    expect(wrong).toBeTypeOf("function");
  });
});
