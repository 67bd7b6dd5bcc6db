import { checkIndices } from "../index-errors";
import { checkOptionKeys } from "../options";
import { fmt, normalizeAxis, sizeOf } from "../shape";
import type { Tensor } from "../tensor";
import { fromArray } from "./create";
import { add, cast, lt, mul, where } from "./elementwise";
import { composite, run1 } from "./run";
import { narrow, reshape } from "./shape_ops";

// Sorting and scans along one axis. argsort and cumsum are kernels (with defaults composed from
// primitives for backends without them); sort, topk and takeAlongDim are built on them, so their
// gradients come from gather / scatter-add.

export interface SortOptions {
  /** The axis to sort along; default the last. */
  dim?: number;
  /** Largest first; default false. */
  descending?: boolean;
  /** Accepted for PyTorch compatibility: the sort is always stable (ties keep their order). */
  stable?: boolean;
}

const scan = (x: Tensor, dim: number, op: string) => {
  const a = normalizeAxis(dim, Math.max(x.rank, 1), op);
  const shape = x.rank === 0 ? [1] : x.shape;
  return { a, outer: sizeOf(shape.slice(0, a)), n: shape[a], inner: sizeOf(shape.slice(a + 1)) };
};

/** Indices that sort `x` along `dim` (PyTorch `argsort`, stable; NaN sorts as the largest value). */
export function argsort(x: Tensor, opts: SortOptions = {}): Tensor {
  checkOptionKeys("argsort", opts, ["dim", "descending", "stable"]);
  return composite([x], () => {
    if (x.dtype === "bool") x = cast(x, "int32");
    const { outer, n, inner } = scan(x, opts.dim ?? -1, "argsort");
    return run1("argsort", [x], x.shape, "int32", { outer, n, inner, descending: opts.descending ?? false });
  });
}

/** Sorted values and the indices they came from (PyTorch `sort`). Differentiable in the values. */
export function sort(x: Tensor, opts: SortOptions = {}): { values: Tensor; indices: Tensor } {
  checkOptionKeys("sort", opts, ["dim", "descending", "stable"]);
  const indices = argsort(x, opts);
  const a = normalizeAxis(opts.dim ?? -1, x.rank, "sort");
  return { values: composite([x], () => gatherAlong(x, indices, a)), indices };
}

export interface TopkOptions {
  dim?: number;
  /** The k largest (default) or the k smallest. */
  largest?: boolean;
  /** Accepted for PyTorch compatibility: results always come sorted. */
  sorted?: boolean;
}

/** The k largest (or smallest) values along `dim` and their indices (PyTorch `topk`), sorted. */
export function topk(x: Tensor, k: number, opts: TopkOptions = {}): { values: Tensor; indices: Tensor } {
  checkOptionKeys("topk", opts, ["dim", "largest", "sorted"]);
  const dim = opts.dim ?? -1;
  const { a, n } = scan(x, dim, "topk");
  if (!Number.isInteger(k) || k < 0 || k > n) {
    throw new Error(
      `topk: k must be an integer in 0..${n} (the size of dim ${dim} of ${fmt(x.shape)}), got ${k}`,
    );
  }
  const indices = composite([x], () =>
    narrow(argsort(x, { dim: a, descending: opts.largest ?? true }), a, 0, k),
  );
  return { values: composite([x], () => gatherAlong(x, indices, a)), indices };
}

/**
 * Picks values along `dim` by per-position indices (PyTorch `take_along_dim` / `gather`, NumPy
 * `take_along_axis`): `indices` has x's shape except along `dim`. Differentiable in x.
 */
export function takeAlongDim(x: Tensor, indices: Tensor, dim: number): Tensor {
  return composite([x, indices], () => {
    if (indices.dtype !== "int32")
      throw new Error(`takeAlongDim: indices must be int32, got ${indices.dtype}`);
    const a = normalizeAxis(dim, x.rank, "takeAlongDim");
    if (indices.rank !== x.rank || x.shape.some((d, i) => i !== a && d !== indices.shape[i])) {
      throw new Error(
        `takeAlongDim: indices of shape ${fmt(indices.shape)} must match x ${fmt(x.shape)} on every axis but ${a}`,
      );
    }
    const n = x.shape[a];
    checkIndices(indices, {
      op: "takeAlongDim",
      what: "index",
      low: -n,
      high: n,
      range: `dim ${a} of size ${n}`,
    });
    return gatherAlong(x, add(indices, mul(cast(lt(indices, 0), "int32"), n)), a);
  });
}

/**
 * x's values at per-position indices along axis `a`, the indices already in [0, n) (checked by
 * takeAlongDim, or made by argsort): one gather of flat positions, differentiable through it.
 */
function gatherAlong(x: Tensor, indices: Tensor, a: number): Tensor {
  const n = x.shape[a];
  const k = indices.shape[a];
  const outer = sizeOf(x.shape.slice(0, a));
  const inner = sizeOf(x.shape.slice(a + 1));
  // flat position of (o, idx, i) in x: (o * n + idx) * inner + i
  const base = new Int32Array(outer * k * inner);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < k; j++)
      for (let i = 0; i < inner; i++) base[(o * k + j) * inner + i] = o * n * inner + i;
  }
  const offsets = fromArray(base, indices.shape, "int32", { backend: x.backend.name });
  const flat = reshape(add(offsets, inner === 1 ? indices : mul(indices, inner)), [indices.size]);
  const attrs = { outer: 1, dim: x.size, inner: 1, n: indices.size };
  return reshape(run1("gather", [reshape(x, [x.size]), flat], [indices.size], x.dtype, attrs), indices.shape);
}

/** Running sums along `dim` (PyTorch `cumsum`); bool and int32 sum in int32. */
export function cumsum(x: Tensor, dim: number): Tensor {
  return composite([x], () => {
    if (x.dtype === "bool") x = cast(x, "int32");
    const { outer, n, inner } = scan(x, dim, "cumsum");
    return run1("cumsum", [x], x.shape, x.dtype, { outer, n, inner, reverse: false });
  });
}

/** `value` where `mask` is true, else x (PyTorch `masked_fill`); the mask broadcasts to x. */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  return composite([x, mask], () => {
    if (mask.dtype !== "bool") throw new Error(`maskedFill: mask must have dtype bool, got ${mask.dtype}`);
    return where(mask, value, x);
  });
}

export interface UniqueOptions {
  /** Accepted for PyTorch compatibility: values always come sorted ascending. */
  sorted?: boolean;
  /** Also return, for each element of x, the index of its value in `values`. */
  returnInverse?: boolean;
  /** Also return how often each value occurs. */
  returnCounts?: boolean;
}

/**
 * The sorted distinct values of x, flattened (PyTorch `unique`). Asynchronous, unlike other ops:
 * the output's size depends on the data, so the values are read first (PyTorch synchronizes a
 * GPU here too). NaNs are all kept, as PyTorch does.
 */
export async function unique(
  x: Tensor,
  opts: UniqueOptions = {},
): Promise<{ values: Tensor; inverse?: Tensor; counts?: Tensor }> {
  checkOptionKeys("unique", opts, ["sorted", "returnInverse", "returnCounts"]);
  x.assertAlive("unique");
  const data = await x.data();
  const distinct = [...new Set(Array.from(data).filter((v) => v === v))].sort((p, q) => p - q);
  const nans = Array.from(data).filter((v) => v !== v).length;
  const values = [...distinct, ...new Array<number>(nans).fill(Number.NaN)];
  const backend = x.backend.name;
  const make = (v: number[], dtype: typeof x.dtype) =>
    fromArray(
      dtype === "float32"
        ? Float32Array.from(v)
        : dtype === "int32"
          ? Int32Array.from(v)
          : Uint8Array.from(v),
      [v.length],
      dtype,
      { backend },
    );
  const out: { values: Tensor; inverse?: Tensor; counts?: Tensor } = { values: make(values, x.dtype) };
  const pos = new Map(distinct.map((v, i) => [v, i]));
  if (opts.returnInverse) {
    let nanSeen = 0;
    const inv = Array.from(data, (v) => (v === v ? (pos.get(v) as number) : distinct.length + nanSeen++));
    out.inverse = make(inv, "int32");
    out.inverse = reshape(out.inverse, x.shape);
  }
  if (opts.returnCounts) {
    const counts = new Array<number>(values.length).fill(0);
    let nanSeen = 0;
    for (const v of data) counts[v === v ? (pos.get(v) as number) : distinct.length + nanSeen++]++;
    out.counts = make(counts, "int32");
  }
  return out;
}
