export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  // Index loops in these helpers: they run several times per op, and for-of allocated iterator
  // objects wherever V8 had not optimized the caller.
  for (let i = 0; i < shape.length; i++) n *= shape[i];
  return n;
}

export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

const CONTIGUOUS = new WeakMap<Shape, readonly number[]>();

/**
 * stridesOf a tensor's (frozen, shared) shape, computed once per shape array: elementwise ops on
 * operands of one shape pass these as both operands' strides without allocating.
 */
export function contiguousStrides(shape: Shape): readonly number[] {
  let s = CONTIGUOUS.get(shape);
  if (!s) {
    s = Object.freeze(stridesOf(shape));
    if (Object.isFrozen(shape)) CONTIGUOUS.set(shape, s);
  }
  return s;
}

export const fmt = (shape: Shape): string => `[${shape.join(", ")}]`;

export function sameShape(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function assertShape(shape: Shape, op: string): void {
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (!Number.isInteger(d) || d < 0) {
      throw new Error(`${op}: shape entries must be non-negative integers, got ${fmt(shape)}`);
    }
  }
}

/** NumPy broadcasting of several shapes; the error names the op and every shape. */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  let rank = 0;
  for (let k = 0; k < shapes.length; k++) if (shapes[k].length > rank) rank = shapes[k].length;
  const out = new Array<number>(rank).fill(1);
  for (let i = 0; i < rank; i++) {
    for (let k = 0; k < shapes.length; k++) {
      const s = shapes[k];
      // Index from the right without negative indices (a property lookup that V8 makes slow).
      const j = s.length - rank + i;
      const d = j >= 0 ? s[j] : 1;
      if (d === 1) continue;
      if (out[i] !== 1 && out[i] !== d) {
        throw new Error(
          `${op}: shapes ${shapes.map(fmt).join(" and ")} cannot be broadcast together (dimension ${i - rank} is ${out[i]} vs ${d})`,
        );
      }
      out[i] = d;
    }
  }
  return out;
}

/** Strides that read `shape` as if it were broadcast to `target` (0 on broadcast axes). */
export function broadcastStrides(shape: Shape, target: Shape): number[] {
  const st = stridesOf(shape);
  const off = target.length - shape.length;
  return target.map((_, i) => {
    const j = i - off;
    if (j < 0 || shape[j] === 1) return 0;
    return st[j];
  });
}

export function normalizeAxis(axis: number, rank: number, op: string): number {
  if (!Number.isInteger(axis) || axis < -Math.max(rank, 1) || axis >= Math.max(rank, 1)) {
    throw new Error(
      `${op}: axis ${axis} is out of range for a tensor of rank ${rank} (expected -${rank}..${rank - 1})`,
    );
  }
  return axis < 0 ? axis + rank : axis;
}

export function normalizeAxes(
  axes: number | readonly number[] | undefined,
  rank: number,
  op: string,
): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === "number" ? [axes] : axes;
  const out = list.map((a) => normalizeAxis(a, rank, op));
  if (new Set(out).size !== out.length) throw new Error(`${op}: repeated axis in [${list.join(", ")}]`);
  return out.sort((a, b) => a - b);
}

/**
 * Shape normalization for strided kernels, done once here for every backend: drops size-1 axes
 * and merges adjacent axes that are contiguous for every operand, so same-shape operands, a
 * scalar or a row vector become one or two long axes. `strides` holds one stride list per operand
 * (0 on broadcast axes). A result of rank 0 is returned as shape [1] with zero strides.
 */
export function mergeAxes(
  shape: readonly number[],
  strides: readonly (readonly number[])[],
): { shape: number[]; strides: number[][] } {
  const k = strides.length;
  const R = Math.max(1, shape.length);
  const dims = new Array<number>(R);
  const st = new Array<number>(k * R);
  const rank = mergeAxesInto(shape, strides, dims, st, R);
  return {
    shape: dims.slice(0, rank),
    strides: strides.map((_, j) => st.slice(j * R, j * R + rank)),
  };
}

/**
 * `mergeAxes` into caller-owned arrays, allocating nothing (the CPU backend's row walker calls it
 * for every strided kernel): the merged sizes go to `dims`, operand j's merged strides to
 * `stridesOut[j * stride ..]`. Both need room for `shape.length` axes (at least 1), and `stride`
 * at least that. Returns the merged rank, at least 1.
 */
export function mergeAxesInto(
  shape: readonly number[],
  strides: readonly (readonly number[])[],
  dims: { [i: number]: number },
  stridesOut: { [i: number]: number },
  stride: number,
): number {
  const k = strides.length;
  let r = 0;
  for (let d = 0; d < shape.length; d++) {
    const size = shape[d];
    if (size === 1) continue;
    let joins = r > 0;
    for (let j = 0; joins && j < k; j++)
      if (stridesOut[j * stride + r - 1] !== strides[j][d] * size) joins = false;
    if (joins) {
      dims[r - 1] *= size;
      for (let j = 0; j < k; j++) stridesOut[j * stride + r - 1] = strides[j][d];
    } else {
      dims[r] = size;
      for (let j = 0; j < k; j++) stridesOut[j * stride + r] = strides[j][d];
      r++;
    }
  }
  if (r === 0) {
    dims[0] = 1;
    for (let j = 0; j < k; j++) stridesOut[j * stride] = 0;
    r = 1;
  }
  return r;
}

/**
 * Argument validation shared by every op (done in the core, before any backend, so every backend
 * gives the same error): each value must be an integer >= `min`. A fraction, NaN or infinity is
 * rejected, never floored.
 */
export function checkInts(op: string, name: string, values: number | readonly number[], min: number): void {
  const list = typeof values === "number" ? [values] : values;
  for (const v of list) {
    if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
      const shown = typeof values === "number" ? String(values) : `[${list.join(", ")}]`;
      const which = min === 0 ? "non-negative " : min === 1 ? "positive " : "";
      const bound = min === 0 || min === 1 || min === Number.NEGATIVE_INFINITY ? "" : ` >= ${min}`;
      throw new Error(`${op}: ${name} must be ${which}integers${bound}, got ${shown}`);
    }
  }
}
