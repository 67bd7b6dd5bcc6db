import { describe, expect, it } from "vitest";
import {
  broadcastShapes,
  broadcastStrides,
  contiguousStrides,
  mergeAxes,
  mergeAxesInto,
  normalizeAxes,
  normalizeAxis,
  sizeOf,
  stridesOf,
} from "./shape";

describe("shape helpers", () => {
  it("sizes and row-major strides", () => {
    expect(sizeOf([])).toBe(1);
    expect(sizeOf([2, 0, 3])).toBe(0);
    expect(stridesOf([2, 3, 4])).toEqual([12, 4, 1]);
  });
  it("broadcasts like NumPy and names the op and shapes when it cannot", () => {
    expect(broadcastShapes("add", [2, 1, 4], [3, 1])).toEqual([2, 3, 4]);
    expect(broadcastShapes("add", [], [5])).toEqual([5]);
    expect(() => broadcastShapes("mul", [2, 3], [4, 3])).toThrow(
      "mul: shapes [2, 3] and [4, 3] cannot be broadcast together (dimension -2 is 2 vs 4)",
    );
  });
  it("broadcast strides are 0 on broadcast axes", () => {
    expect(broadcastStrides([3, 1], [2, 3, 4])).toEqual([0, 1, 0]);
  });
  it("normalizes negative axes, rejects out-of-range and repeated ones", () => {
    expect(normalizeAxis(-1, 3, "sum")).toBe(2);
    expect(normalizeAxes([-1, 0], 3, "sum")).toEqual([0, 2]);
    expect(normalizeAxes(undefined, 2, "sum")).toEqual([0, 1]);
    expect(() => normalizeAxis(3, 3, "sum")).toThrow(
      "sum: axis 3 is out of range for a tensor of rank 3 (expected -3..2)",
    );
    expect(() => normalizeAxes([1, -1], 2, "mean")).toThrow("mean: repeated axis in [1, -1]");
  });
});

describe("contiguousStrides", () => {
  it("gives a shape's row-major strides, once per frozen shape array", () => {
    const shape = Object.freeze([2, 3, 4]);
    const s = contiguousStrides(shape);
    expect(s).toEqual([12, 4, 1]);
    expect(Object.isFrozen(s)).toBe(true);
    expect(contiguousStrides(shape)).toBe(s);
    // An unfrozen shape may change, so its strides are not kept.
    const loose = [5, 2];
    expect(contiguousStrides(loose)).toEqual([2, 1]);
    loose[1] = 3;
    expect(contiguousStrides(loose)).toEqual([3, 1]);
    expect(contiguousStrides(Object.freeze([]))).toEqual([]);
  });
});

describe("mergeAxes", () => {
  it("drops size-1 axes and joins neighbours every operand walks contiguously", () => {
    // Same layout: one axis. A row vector broadcast over rows: two axes.
    expect(
      mergeAxes(
        [2, 3, 4],
        [
          [12, 4, 1],
          [12, 4, 1],
        ],
      ),
    ).toEqual({ shape: [24], strides: [[1], [1]] });
    expect(
      mergeAxes(
        [2, 1, 3],
        [
          [3, 3, 1],
          [0, 0, 1],
        ],
      ),
    ).toEqual({
      shape: [2, 3],
      strides: [
        [3, 1],
        [0, 1],
      ],
    });
    // A transposed read does not join; a scalar result is one axis of size 1.
    expect(mergeAxes([3, 2], [[1, 3]])).toEqual({ shape: [3, 2], strides: [[1, 3]] });
    expect(mergeAxes([], [[], []])).toEqual({ shape: [1], strides: [[0], [0]] });
    expect(mergeAxes([1, 1], [[5, 1]])).toEqual({ shape: [1], strides: [[0]] });
  });

  it("mergeAxesInto writes the same into caller arrays and returns the rank", () => {
    const dims = new Int32Array(4);
    const st = new Int32Array(8);
    expect(
      mergeAxesInto(
        [2, 1, 3],
        [
          [3, 3, 1],
          [0, 0, 1],
        ],
        dims,
        st,
        4,
      ),
    ).toBe(2);
    expect([...dims.subarray(0, 2)]).toEqual([2, 3]);
    expect([...st.subarray(0, 2)]).toEqual([3, 1]);
    expect([...st.subarray(4, 6)]).toEqual([0, 1]);
  });
});
