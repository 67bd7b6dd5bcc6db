import { describe, expect, it } from "vitest";
import { median } from "./common";
import { cell, fmt, speedRatio } from "./format";

describe("results table formatting", () => {
  it("takes the median of odd and even counts without reordering the input", () => {
    const xs = [5, 1, 3];
    expect(median(xs)).toBe(3);
    expect(xs).toEqual([5, 1, 3]);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it("formats numbers to about four significant digits", () => {
    expect(fmt(225_400)).toBe("225k");
    expect(fmt(12_470.4)).toBe("12470");
    expect(fmt(123.456)).toBe("123.5");
    expect(fmt(12.3456)).toBe("12.35");
    expect(fmt(1.23456)).toBe("1.235");
  });

  it("prints median (min-max), a single value, or n/a", () => {
    expect(cell({ values: [3, 1, 2] })).toBe("2.000 (1.000-3.000)");
    expect(cell({ values: [42] })).toBe("42.00");
    expect(cell({ values: [] })).toBe("n/a");
  });

  it("gives ratios above 1 when minibatch is better, for both kinds of metric", () => {
    expect(speedRatio([30, 10, 20], [5, 5, 5], false)).toBe(4);
    expect(speedRatio([2, 2, 2], [6, 6, 6], true)).toBe(3);
  });
});
