import { describe, expect, it } from "vitest";
import {
  assertIndices,
  firstBadIndex,
  type IndexCheck,
  indexErrorMessage,
  isValidIndex,
} from "./index-errors";

const labels: IndexCheck = {
  op: "crossEntropy",
  what: "target",
  low: 0,
  high: 3,
  ignore: -100,
  range: "3 classes",
};

describe("index error messages (shared by every backend)", () => {
  it("name the op, the value, the position and the range", () => {
    expect(indexErrorMessage(labels, 3, 4, [6])).toBe(
      "crossEntropy: target 3 at position 4 is out of range for 3 classes (expected 0..2, or ignoreIndex -100)",
    );
    const rows: IndexCheck = {
      op: "indexSelect",
      what: "index",
      low: -5,
      high: 5,
      range: "axis 0 of size 5",
    };
    expect(indexErrorMessage(rows, -6, 0, [])).toBe(
      "indexSelect: index -6 at position 0 is out of range for axis 0 of size 5 (expected -5..4)",
    );
    // Rank 2 and up: the flat position as a multi-index.
    expect(indexErrorMessage(rows, 9, 23, [2, 3, 4])).toContain(
      "index 9 at position [1, 2, 3] is out of range",
    );
    expect(indexErrorMessage({ ...rows, low: 0, high: 0, range: "axis 0 of size 0" }, 0, 0, [1])).toBe(
      "indexSelect: index 0 at position 0 is out of range for axis 0 of size 0 (the range is empty)",
    );
  });

  it("find the first failing value; the ignore value passes", () => {
    expect(isValidIndex(labels, -100)).toBe(true);
    expect(isValidIndex(labels, -1)).toBe(false);
    expect(isValidIndex(labels, 3)).toBe(false);
    expect(firstBadIndex([0, 2, -100, 1], labels)).toBe(-1);
    expect(firstBadIndex([0, 2, 5, -1], labels)).toBe(2);
    expect(() => assertIndices(Int32Array.from([0, -1, 7]), [3], labels)).toThrow(RangeError);
    expect(() => assertIndices([0, -1, 7], [3], labels)).toThrow("target -1 at position 1");
    expect(() => assertIndices([0, 1], [2], labels)).not.toThrow();
  });
});
