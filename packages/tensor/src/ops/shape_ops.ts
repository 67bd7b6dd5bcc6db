import { record } from "../autograd";
import { ENGINE } from "../engine";
import { MOVEMENT_GRADS, type MovementAttrs, type MovementOp } from "../gradients";
import { assertIndices, checkIndices, type IndexCheck } from "../index-errors";
import {
  broadcastShapes,
  broadcastStrides,
  checkInts,
  fmt,
  normalizeAxes,
  normalizeAxis,
  sameShape,
  sizeOf,
  stridesOf,
} from "../shape";
import type { AxisArg } from "../tensor";
import { Tensor } from "../tensor";
import { fromArray, zeros } from "./create";
import { sum } from "./reduce";
import { composite, run1, runOp } from "./run";

/** A tensor that shares `x`'s buffer with another shape (no copy). */
export function view(x: Tensor, shape: readonly number[], differentiable = true): Tensor {
  x.assertAlive("reshape");
  ENGINE.incRef(x.dataId);
  const out = new Tensor(x.dataId, shape, x.dtype, x.backend);
  out._base = x._base ?? x;
  if (differentiable) recordMovement("reshape", x, out, { from: x.shape });
  return out;
}

export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const s = [...shape];
  const unknown = s.indexOf(-1);
  if (unknown >= 0) {
    if (s.indexOf(-1, unknown + 1) >= 0)
      throw new Error(`reshape: only one dimension can be -1, got ${fmt(shape)}`);
    const known = sizeOf(s.filter((_, i) => i !== unknown));
    if (known === 0 || x.size % known !== 0) {
      throw new Error(
        `reshape: cannot reshape a tensor of shape ${fmt(x.shape)} (${x.size} elements) to ${fmt(shape)}`,
      );
    }
    s[unknown] = x.size / known;
  }
  if (s.some((d) => !Number.isInteger(d) || d < 0) || sizeOf(s) !== x.size) {
    throw new Error(
      `reshape: cannot reshape a tensor of shape ${fmt(x.shape)} (${x.size} elements) to ${fmt(shape)}`,
    );
  }
  return view(x, s);
}

export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  if (x.rank === 0) return reshape(x, [1]);
  const a = normalizeAxis(startDim, x.rank, "flatten");
  const b = normalizeAxis(endDim, x.rank, "flatten");
  if (a > b) throw new Error(`flatten: startDim ${startDim} comes after endDim ${endDim}`);
  return reshape(x, [...x.shape.slice(0, a), sizeOf(x.shape.slice(a, b + 1)), ...x.shape.slice(b + 1)]);
}

export function squeeze(x: Tensor, axis?: AxisArg): Tensor {
  const axes =
    axis === undefined
      ? x.shape.flatMap((d, i) => (d === 1 ? [i] : []))
      : normalizeAxes(axis, x.rank, "squeeze");
  return reshape(
    x,
    x.shape.filter((d, i) => !(axes.includes(i) && d === 1)),
  );
}

export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = normalizeAxis(axis, x.rank + 1, "unsqueeze");
  return reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)]);
}

/** Reorders axes (PyTorch `permute`). */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  if (perm.length !== x.rank) {
    throw new Error(`permute: expected ${x.rank} axes for shape ${fmt(x.shape)}, got [${perm.join(", ")}]`);
  }
  const p = perm.map((a) => normalizeAxis(a, x.rank, "permute"));
  if (new Set(p).size !== p.length) throw new Error(`permute: [${perm.join(", ")}] is not a permutation`);
  if (p.every((a, i) => a === i)) return view(x, x.shape);
  const st = stridesOf(x.shape);
  const inv = new Array<number>(p.length);
  p.forEach((a, i) => {
    inv[a] = i;
  });
  return strided(
    x,
    p.map((a) => x.shape[a]),
    p.map((a) => st[a]),
    0,
    ["permute", { inverse: inv }],
  );
}

/**
 * Runs the `strided` kernel for a movement op and records that op's gradient rule from
 * MOVEMENT_GRADS (the kernel itself has none: the same copy serves permute, expand and slice).
 */
function strided<M extends MovementOp>(
  x: Tensor,
  shape: readonly number[],
  strides: number[],
  offset: number,
  [op, attrs]: [M, MovementAttrs[M]],
): Tensor {
  const [out] = ENGINE.run("strided", [x], [{ shape, dtype: x.dtype }], { strides, offset });
  recordMovement(op, x, out, attrs);
  return out;
}

function recordMovement<M extends MovementOp>(op: M, x: Tensor, out: Tensor, attrs: MovementAttrs[M]): void {
  const rule = MOVEMENT_GRADS[op] as (g: Tensor, a: MovementAttrs[M]) => Tensor;
  record(op, [x], [out], ([g]) => [g ? rule(g, attrs) : null]);
}

export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  if (x.rank < 2) return view(x, x.shape);
  const a = normalizeAxis(dim0, x.rank, "transpose");
  const b = normalizeAxis(dim1, x.rank, "transpose");
  const perm = x.shape.map((_, i) => i);
  perm[a] = b;
  perm[b] = a;
  return permute(x, perm);
}

/** Broadcasts to `shape` (-1 keeps a dimension). */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const target = shape.map((d, i) => (d === -1 ? x.shape[i - (shape.length - x.rank)] : d));
  const full = broadcastShapes("expand", x.shape, target);
  if (!sameShape(full, target)) {
    throw new Error(`expand: cannot expand shape ${fmt(x.shape)} to ${fmt(shape)}`);
  }
  if (sameShape(x.shape, target)) return view(x, target);
  return strided(x, target, broadcastStrides(x.shape, target), 0, ["expand", { from: x.shape }]);
}

/** Sums `g` down to `shape`: the gradient of broadcasting. */
export function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  return composite([g], () => {
    if (sameShape(g.shape, shape)) return g;
    const lead = g.rank - shape.length;
    const axes: number[] = [];
    for (let i = 0; i < g.rank; i++)
      if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
    return reshape(sum(g, axes), shape);
  });
}

/** `size[i] = -1` takes the rest of axis i. Negative begins count from the end. */
export function slice(x: Tensor, begin: readonly number[], size?: readonly number[]): Tensor {
  if (begin.length > x.rank || (size && size.length !== begin.length)) {
    throw new Error(`slice: begin [${begin}] and size [${size ?? ""}] do not fit shape ${fmt(x.shape)}`);
  }
  // Checked before anything is made: a fraction or NaN is an error, never floored.
  checkInts("slice", "begin", begin, Number.NEGATIVE_INFINITY);
  if (size) checkInts("slice", "size (-1 for the rest)", size, -1);
  const b = x.shape.map((d, i) => {
    const v = begin[i] ?? 0;
    return v < 0 ? v + d : v;
  });
  const s = x.shape.map((d, i) => {
    const v = size?.[i] ?? -1;
    return v === -1 ? d - b[i] : v;
  });
  for (let i = 0; i < x.rank; i++) {
    if (b[i] < 0 || s[i] < 0 || b[i] + s[i] > x.shape[i]) {
      throw new Error(
        `slice: begin [${begin}] size [${size ?? ""}] is out of bounds for shape ${fmt(x.shape)}`,
      );
    }
  }
  return stridedSlice(x, b, s);
}

function stridedSlice(x: Tensor, b: number[], s: number[]): Tensor {
  const st = stridesOf(x.shape);
  const offset = b.reduce((acc, v, i) => acc + v * st[i], 0);
  if (sameShape(s, x.shape)) return view(x, x.shape);
  return strided(x, s, st, offset, ["slice", { from: x.shape, begin: b }]);
}

/** The gradient of a slice: zeros around g, axis by axis. */
export function padBack(g: Tensor, shape: readonly number[], begin: readonly number[]): Tensor {
  let out = g;
  for (let i = 0; i < shape.length; i++) {
    const after = shape[i] - begin[i] - g.shape[i];
    if (begin[i] === 0 && after === 0) continue;
    const shapeWith = (n: number) => out.shape.map((d, j) => (j === i ? n : d));
    const parts: Tensor[] = [];
    if (begin[i] > 0) parts.push(zeros(shapeWith(begin[i]), { backend: g.backend.name }));
    parts.push(out);
    if (after > 0) parts.push(zeros(shapeWith(after), { backend: g.backend.name }));
    const next = concat(parts, i);
    for (const p of parts) if (p !== out) p.dispose();
    if (out !== g) out.dispose();
    out = next;
  }
  return out;
}

export function narrow(x: Tensor, axis: number, start: number, length: number): Tensor {
  const a = normalizeAxis(axis, x.rank, "narrow");
  checkInts("narrow", "start", start, Number.NEGATIVE_INFINITY);
  checkInts("narrow", "length", length, 0);
  const begin = x.shape.map(() => 0);
  const size = x.shape.map(() => -1);
  begin[a] = start < 0 ? start + x.shape[a] : start;
  size[a] = length;
  return slice(x, begin, size);
}

export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  return composite(xs, () => {
    if (xs.length === 0) throw new Error("concat: expected at least one tensor");
    const first = xs[0];
    const a = normalizeAxis(axis, first.rank, "concat");
    for (const t of xs) {
      if (t.rank !== first.rank || t.shape.some((d, i) => i !== a && d !== first.shape[i])) {
        throw new Error(
          `concat: shapes ${xs.map((u) => fmt(u.shape)).join(", ")} must match except on axis ${axis}`,
        );
      }
      if (t.dtype !== first.dtype) throw new Error(`concat: dtypes differ (${first.dtype} vs ${t.dtype})`);
    }
    if (xs.length === 1) return view(first, first.shape);
    const sizes = xs.map((t) => t.shape[a]);
    const shape = [...first.shape];
    shape[a] = sizes.reduce((p, c) => p + c, 0);
    return run1("concat", xs, shape, first.dtype, {
      outer: sizeOf(first.shape.slice(0, a)),
      sizes,
      inner: sizeOf(first.shape.slice(a + 1)),
    });
  });
}

export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  return composite(xs, () => {
    if (xs.length === 0) throw new Error("stack: expected at least one tensor");
    for (const t of xs) {
      if (!sameShape(t.shape, xs[0].shape)) {
        throw new Error(
          `stack: all tensors must have the same shape, got ${fmt(xs[0].shape)} and ${fmt(t.shape)}`,
        );
      }
    }
    const a = normalizeAxis(axis, xs[0].rank + 1, "stack");
    return concat(
      xs.map((t) => unsqueeze(t, a)),
      a,
    );
  });
}

/** Splits into chunks of `size` (the last may be smaller) or into the given section sizes. */
export function split(x: Tensor, sizeOrSections: number | readonly number[], axis = 0): Tensor[] {
  const a = normalizeAxis(axis, x.rank, "split");
  const n = x.shape[a];
  let sections: number[];
  if (typeof sizeOrSections === "number") {
    if (!(Number.isInteger(sizeOrSections) && sizeOrSections > 0))
      throw new Error(`split: chunk size must be a positive integer, got ${sizeOrSections}`);
    sections = [];
    for (let i = 0; i < n; i += sizeOrSections) sections.push(Math.min(sizeOrSections, n - i));
  } else {
    sections = [...sizeOrSections];
    // Checked before any piece is cut, so a bad section leaves no tensors behind.
    if (sections.some((c) => !Number.isInteger(c) || c < 0))
      throw new Error(`split: sections must be non-negative integers, got [${sections}]`);
    if (sections.reduce((p, c) => p + c, 0) !== n) {
      throw new Error(
        `split: sections [${sections}] do not add up to ${n}, the size of axis ${axis} of ${fmt(x.shape)}`,
      );
    }
  }
  let start = 0;
  return sections.map((len) => {
    const t = narrow(x, a, start, len);
    start += len;
    return t;
  });
}

function indexTensor(indices: Tensor | readonly number[], like: Tensor, check: IndexCheck): Tensor {
  if (indices instanceof Tensor) {
    if (indices.dtype !== "int32")
      throw new Error(`indexSelect: indices must be int32, got ${indices.dtype}`);
    checkIndices(indices, check);
    return indices;
  }
  // Plain arrays are checked here, the same way on every backend, before any upload.
  const bad = indices.findIndex((v) => !Number.isInteger(v));
  if (bad >= 0)
    throw new Error(`indexSelect: indices must be integers, got ${indices[bad]} at position ${bad}`);
  assertIndices(indices, [indices.length], check);
  return fromArray(Int32Array.from(indices), [indices.length], "int32", { backend: like.backend.name });
}

/** Picks entries along `axis` by a 1-d int32 index (PyTorch `index_select`); indices must be in range. */
export function indexSelect(x: Tensor, axis: number, indices: Tensor | readonly number[]): Tensor {
  return composite([x, indices], () => {
    const a = normalizeAxis(axis, x.rank, "indexSelect");
    const dim = x.shape[a];
    const idx = indexTensor(indices, x, {
      op: "indexSelect",
      what: "index",
      low: -dim,
      high: dim,
      range: `axis ${axis} of size ${dim}`,
    });
    return gatherAlong(x, a, idx);
  });
}

/** indexSelect after its check: any index shape, the result has it in place of axis `a`. */
function gatherAlong(x: Tensor, a: number, idx: Tensor): Tensor {
  if (idx.rank > 1) {
    const flat = gatherAlong(x, a, reshape(idx, [idx.size]));
    return reshape(flat, [...x.shape.slice(0, a), ...idx.shape, ...x.shape.slice(a + 1)]);
  }
  const shape = [...x.shape];
  shape[a] = idx.size;
  return run1("gather", [x, idx], shape, x.dtype, {
    outer: sizeOf(x.shape.slice(0, a)),
    dim: x.shape[a],
    inner: sizeOf(x.shape.slice(a + 1)),
    n: idx.size,
  });
}

/**
 * Adds `src` slices into a zero tensor of `dim` entries along `axis`, slice j at `indices[j]`
 * (duplicates accumulate; negative indices count from the end). `indices`: int32, 1-d, one per
 * slice of `src` along `axis`.
 */
export function scatterAdd(src: Tensor, axis: number, indices: Tensor, dim: number): Tensor {
  const a = normalizeAxis(axis, src.rank, "scatterAdd");
  if (indices.dtype !== "int32") throw new Error(`scatterAdd: indices must be int32, got ${indices.dtype}`);
  if (indices.rank > 1 || indices.size !== src.shape[a]) {
    throw new Error(
      `scatterAdd: expected 1-d indices of length ${src.shape[a]} (axis ${axis} of src ${fmt(src.shape)}), got ${fmt(indices.shape)}`,
    );
  }
  if (!Number.isInteger(dim) || dim < 0) {
    throw new Error(`scatterAdd: dim must be a non-negative integer, got ${dim}`);
  }
  checkIndices(indices, {
    op: "scatterAdd",
    what: "index",
    low: -dim,
    high: dim,
    range: `axis ${axis} of size ${dim}`,
  });
  const shape = [...src.shape];
  shape[a] = dim;
  return runOp("scatterAdd", [src, indices], [{ shape, dtype: src.dtype }], {
    outer: sizeOf(src.shape.slice(0, a)),
    dim,
    inner: sizeOf(src.shape.slice(a + 1)),
    n: indices.size,
  })[0];
}

/** One-hot encoding of int32 class indices in [0, numClasses) along a new last axis. */
export function oneHot(indices: Tensor, numClasses: number, dtype: "float32" | "int32" = "float32"): Tensor {
  if (indices.dtype !== "int32") throw new Error(`oneHot: indices must be int32, got ${indices.dtype}`);
  if (!Number.isInteger(numClasses) || numClasses <= 0)
    throw new Error(`oneHot: numClasses must be a positive integer, got ${numClasses}`);
  // Negative classes are errors, as in PyTorch (indexSelect would count them from the end).
  checkIndices(indices, {
    op: "oneHot",
    what: "index",
    low: 0,
    high: numClasses,
    range: `${numClasses} classes`,
  });
  return composite(indices, () => {
    const eye = fromArray(
      new Float32Array(numClasses * numClasses).map((_, i) => (i % (numClasses + 1) === 0 ? 1 : 0)),
      [numClasses, numClasses],
      "float32",
      { backend: indices.backend.name },
    );
    const out = gatherAlong(eye, 0, indices);
    return dtype === "int32" ? run1("cast", [out], out.shape, "int32", {}) : out;
  });
}

export function clone(x: Tensor): Tensor {
  return strided(x, x.shape, stridesOf(x.shape), 0, ["clone", {}]);
}

export async function toBackend(x: Tensor, name: string): Promise<Tensor> {
  if (x.backend.name === name) return clone(x);
  const values = await x.data();
  return fromArray(values, x.shape, x.dtype, { backend: name, requiresGrad: x.requiresGrad && !x._node });
}

export { zeros };
