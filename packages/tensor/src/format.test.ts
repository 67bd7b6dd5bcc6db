import { describe, expect, it } from "vitest";
import { formatTensor } from "./format";

describe("toString formatting", () => {
  it("prints aligned nested values with shape and dtype", () => {
    expect(formatTensor(new Float32Array([1, -2.5, 3, 4]), [2, 2], "float32", "cpu", false)).toBe(
      "tensor([[ 1.0000, -2.5000],\n        [ 3.0000,  4.0000]], shape=[2, 2], dtype=float32)",
    );
    expect(formatTensor(new Int32Array([7]), [], "int32", "cpu", false)).toBe(
      "tensor(7, shape=[], dtype=int32)",
    );
    expect(formatTensor(new Uint8Array([1, 0]), [2], "bool", "cpu", true)).toBe(
      "tensor([ true, false], shape=[2], dtype=bool, requiresGrad=true)",
    );
  });
  it("summarizes large tensors and says how to read GPU values", () => {
    const s = formatTensor(new Float32Array(2000), [2000], "float32", "cpu", false);
    expect(s).toContain("...");
    expect(s.length).toBeLessThan(200);
    expect(formatTensor(undefined, [3], "float32", "webgpu", false)).toBe(
      "tensor(<on webgpu: await t.data() to read>, shape=[3], dtype=float32, backend=webgpu)",
    );
  });
});
