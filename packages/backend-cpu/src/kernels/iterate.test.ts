import { describe, expect, it } from "vitest";
import { forEachRow } from "./iterate";

/** Every visited row as [output offset, input offsets..., length, inner strides...]. */
function rows(shape: number[], strides: number[][]): number[][] {
  const out: number[][] = [];
  forEachRow(shape, strides, (o, off, n, inner) => {
    out.push([
      o,
      ...Array.from(off.subarray(0, strides.length)),
      n,
      ...Array.from(inner.subarray(0, strides.length)),
    ]);
  });
  return out;
}

describe("forEachRow", () => {
  it("visits rows with each input's offsets, merging contiguous axes", () => {
    // [2, 3] + a row vector [3]: two rows of 3.
    expect(
      rows(
        [2, 3],
        [
          [3, 1],
          [0, 1],
        ],
      ),
    ).toEqual([
      [0, 0, 0, 3, 1, 1],
      [3, 3, 0, 3, 1, 1],
    ]);
    // Same layouts merge into one row.
    expect(
      rows(
        [2, 3, 4],
        [
          [12, 4, 1],
          [12, 4, 1],
        ],
      ),
    ).toEqual([[0, 0, 0, 24, 1, 1]]);
    // A scalar: one row of one.
    expect(rows([], [[], []])).toEqual([[0, 0, 0, 1, 0, 0]]);
    // Empty outputs visit nothing.
    expect(rows([2, 0], [[0, 1]])).toEqual([]);
  });

  it("starts every call from zero offsets, and a call inside a row callback does not disturb the outer one", () => {
    const outer: number[][] = [];
    const innerRows: number[][] = [];
    forEachRow([3, 2], [[1, 3]], (o, off, n) => {
      const before = off[0];
      forEachRow(
        [2, 2],
        [
          [2, 1],
          [0, 1],
        ],
        (o2, off2) => innerRows.push([o2, off2[0], off2[1]]),
      );
      outer.push([o, before, off[0], n]);
    });
    // A transposed read: three rows of two, stride 3 along each row.
    expect(outer).toEqual([
      [0, 0, 0, 2],
      [2, 1, 1, 2],
      [4, 2, 2, 2],
    ]);
    expect(innerRows).toEqual(
      Array.from({ length: 3 }, () => [
        [0, 0, 0],
        [2, 2, 0],
      ]).flat(),
    );
    expect(rows([2], [[1]])).toEqual([[0, 0, 2, 1]]);
  });
});
