import {
  allocArray,
  type Backend,
  BINARY_OPS,
  BINARY_SPECS,
  COMPARE_OPS,
  COMPARE_SPECS,
  type DType,
  type Kernel,
  type KernelTable,
  kernelsFor,
  registerBackend,
  type TensorInfo,
  type TypedArray,
  UNARY_OPS,
  UNARY_SPECS,
} from "@minibatch/tensor";

/**
 * A reference backend: plain TypeScript, float64 arithmetic, every float32 result rounded once
 * (as a correctly rounded float32 kernel would), and only the primitive kernels of the backend
 * contract. It is the proof that a backend needs nothing more (every fused kernel runs as the
 * core's default), and the oracle the CPU and WebGPU backends are compared with in the
 * conformance suite. Elementwise ops compute with the specs' own float64 references. Clarity over
 * speed: index arithmetic is spelled out, no fast paths.
 */
export interface RefData {
  values: Float64Array;
  dtype: DType;
}

export class ReferenceBackend implements Backend {
  readonly name = "reference";
  private live = new Map<RefData, number>();
  readonly kernels = KERNELS;

  alloc(size: number, dtype: DType): RefData {
    // NaN everywhere: a kernel that forgets an element shows up in a test.
    const d = { values: new Float64Array(size).fill(Number.NaN), dtype };
    this.live.set(d, size * (dtype === "bool" ? 1 : 4));
    return d;
  }
  write(id: object, values: TypedArray): void {
    const d = id as RefData;
    for (let i = 0; i < values.length; i++) d.values[i] = values[i];
  }
  readSync(id: object, size: number, dtype: DType): TypedArray {
    const out = allocArray(dtype, size);
    const v = (id as RefData).values;
    for (let i = 0; i < size; i++) out[i] = v[i];
    return out;
  }
  async read(id: object, size: number, dtype: DType): Promise<TypedArray> {
    return this.readSync(id, size, dtype);
  }
  free(id: object): void {
    if (!this.live.delete(id as RefData)) throw new Error("reference backend: free of an unknown buffer");
  }
  memory(): { buffers: number; bytes: number } {
    let bytes = 0;
    for (const b of this.live.values()) bytes += b;
    return { buffers: this.live.size, bytes };
  }
}

const vals = (t: TensorInfo) => (t.dataId as RefData).values;

/** The value a buffer of `dtype` holds for the exact result `v`. */
function store(dtype: DType, v: number): number {
  if (dtype === "float32") return Math.fround(v);
  if (dtype === "int32") return v | 0; // wraps, NaN -> 0, as an Int32Array store
  return v !== 0 ? 1 : 0;
}

/** Multi-index of flat position i in `shape` dotted with `strides`. */
function offsetOf(i: number, shape: readonly number[], strides: readonly number[]): number {
  let off = 0;
  for (let d = shape.length - 1; d >= 0; d--) {
    const idx = i % shape[d];
    i = (i - idx) / shape[d];
    off += idx * strides[d];
  }
  return off;
}

type K<Op extends keyof KernelTable> = Kernel<
  Op & Parameters<typeof kernelsFor>[0][number],
  ReferenceBackend
>;

const unary =
  (op: (typeof UNARY_OPS)[number]): K<typeof op> =>
  (_b, [x], [y]) => {
    const f = UNARY_SPECS[op].ref;
    const xs = vals(x);
    const ys = vals(y);
    for (let i = 0; i < y.size; i++) ys[i] = store(y.dtype, f(xs[i]));
  };

const SPECS2 = { ...BINARY_SPECS, ...COMPARE_SPECS };
const binary =
  (op: (typeof BINARY_OPS)[number] | (typeof COMPARE_OPS)[number]): K<typeof op> =>
  (_b, [a, b], [y], attrs) => {
    const f = SPECS2[op].ref;
    const { aStrides, bStrides } = attrs as { aStrides: number[]; bStrides: number[] };
    const [as, bs, ys] = [vals(a), vals(b), vals(y)];
    for (let i = 0; i < y.size; i++) {
      ys[i] = store(y.dtype, f(as[offsetOf(i, y.shape, aStrides)], bs[offsetOf(i, y.shape, bStrides)]));
    }
  };

const reduce =
  (op: "sum" | "max" | "min" | "argmax" | "argmin"): K<typeof op> =>
  (_b, [x], [y], { outer, reduce: r, inner }) => {
    const [xs, ys] = [vals(x), vals(y)];
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const at = (k: number) => xs[(o * r + k) * inner + i];
        let acc = op === "sum" ? 0 : at(0);
        let arg = 0;
        for (let k = op === "sum" ? 0 : 1; k < r; k++) {
          const v = at(k);
          if (op === "sum") acc += v;
          else if (!Number.isNaN(acc)) {
            // the first extreme wins ties; NaN wins over everything (as PyTorch)
            const better = Number.isNaN(v) || (op === "max" || op === "argmax" ? v > acc : v < acc);
            if (better) [acc, arg] = [v, k];
          }
        }
        ys[o * inner + i] = store(y.dtype, op === "argmax" || op === "argmin" ? arg : acc);
      }
    }
  };

const KERNELS: KernelTable<ReferenceBackend> = {
  ...kernelsFor(UNARY_OPS, unary),
  ...kernelsFor(BINARY_OPS, binary),
  ...kernelsFor(COMPARE_OPS, binary),
  clamp: (_b, [x], [y], { min, max }) => {
    const [xs, ys] = [vals(x), vals(y)];
    for (let i = 0; i < y.size; i++) ys[i] = store(y.dtype, xs[i] < min ? min : Math.min(xs[i], max));
  },
  cast: (_b, [x], [y]) => {
    const [xs, ys] = [vals(x), vals(y)];
    for (let i = 0; i < y.size; i++) ys[i] = store(y.dtype, y.dtype === "int32" ? Math.trunc(xs[i]) : xs[i]);
  },
  where: (_b, [c, a, b], [y], at) => {
    const [cs, as, bs, ys] = [vals(c), vals(a), vals(b), vals(y)];
    for (let i = 0; i < y.size; i++) {
      const pick = cs[offsetOf(i, y.shape, at.condStrides)] !== 0;
      ys[i] = pick ? as[offsetOf(i, y.shape, at.aStrides)] : bs[offsetOf(i, y.shape, at.bStrides)];
    }
  },
  sum: reduce("sum"),
  max: reduce("max"),
  min: reduce("min"),
  argmax: reduce("argmax"),
  argmin: reduce("argmin"),
  matmul: (_b, [a, b], [y], at) => {
    const [as, bs, ys] = [vals(a), vals(b), vals(y)];
    const { m, n, k } = at;
    for (let p = 0; p < at.batch; p++) {
      const ab = (at.batchA === 1 ? 0 : p) * m * k;
      const bb = (at.batchB === 1 ? 0 : p) * k * n;
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let q = 0; q < k; q++) {
            const av = as[ab + (at.transA ? q * m + i : i * k + q)];
            const bv = bs[bb + (at.transB ? j * k + q : q * n + j)];
            s += av * bv;
          }
          ys[(p * m + i) * n + j] = store(y.dtype, s);
        }
      }
    }
  },
  strided: (_b, [x], [y], { strides, offset }) => {
    const [xs, ys] = [vals(x), vals(y)];
    for (let i = 0; i < y.size; i++) ys[i] = xs[offset + offsetOf(i, y.shape, strides)];
  },
  concat: (_b, xs, [y], { outer, sizes, inner }) => {
    const ys = vals(y);
    const total = sizes.reduce((p, c) => p + c, 0) * inner;
    let col = 0;
    xs.forEach((x, t) => {
      const len = sizes[t] * inner;
      const v = vals(x);
      for (let o = 0; o < outer; o++) for (let j = 0; j < len; j++) ys[o * total + col + j] = v[o * len + j];
      col += len;
    });
  },
  gather: (_b, [x, idx], [y], { outer, dim, inner, n }) => {
    const [xs, is, ys] = [vals(x), vals(idx), vals(y)];
    for (let j = 0; j < n; j++) {
      const r = checkIndex("gather", is[j], j, dim);
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) ys[(o * n + j) * inner + i] = xs[(o * dim + r) * inner + i];
      }
    }
  },
  scatterAdd: (_b, [src, idx], [y], { outer, dim, inner, n }) => {
    const [ss, is, ys] = [vals(src), vals(idx), vals(y)];
    ys.fill(0);
    for (let j = 0; j < n; j++) {
      const r = checkIndex("scatterAdd", is[j], j, dim);
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) ys[(o * dim + r) * inner + i] += ss[(o * n + j) * inner + i];
      }
    }
    for (let i = 0; i < y.size; i++) ys[i] = store(y.dtype, ys[i]);
  },
  conv2d: (_b, [x, w], [y], at) => {
    const [xs, ws, ys] = [vals(x), vals(w), vals(y)];
    const [n, c, h, wd] = x.shape;
    const [o, cg, kh, kw] = w.shape;
    const [oh, ow] = [y.shape[2], y.shape[3]];
    const og = o / at.groups;
    for (let b = 0; b < n; b++) {
      for (let f = 0; f < o; f++) {
        const g = Math.floor(f / og);
        for (let r = 0; r < oh; r++) {
          for (let q = 0; q < ow; q++) {
            let s = 0;
            for (let ci = 0; ci < cg; ci++) {
              const ch = g * cg + ci;
              for (let i = 0; i < kh; i++) {
                const hi = r * at.stride[0] - at.padding[0] + i * at.dilation[0];
                if (hi < 0 || hi >= h) continue;
                for (let j = 0; j < kw; j++) {
                  const wi = q * at.stride[1] - at.padding[1] + j * at.dilation[1];
                  if (wi < 0 || wi >= wd) continue;
                  s += xs[((b * c + ch) * h + hi) * wd + wi] * ws[((f * cg + ci) * kh + i) * kw + j];
                }
              }
            }
            ys[((b * o + f) * oh + r) * ow + q] = store("float32", s);
          }
        }
      }
    }
  },
  maxPool2d: (_b, [x], [y], at) => pool(x, y, at, "max"),
  avgPool2d: (_b, [x], [y], at) => pool(x, y, at, "avg"),
};

/** Max over the window's valid positions (the first on ties, NaN wins), or their sum / window area. */
function pool(
  x: TensorInfo,
  y: TensorInfo,
  at: { kernel: [number, number]; stride: [number, number]; padding: [number, number] },
  kind: "max" | "avg",
): void {
  const [xs, ys] = [vals(x), vals(y)];
  const [n, c, h, w] = x.shape;
  const [oh, ow] = [y.shape[2], y.shape[3]];
  for (let p = 0; p < n * c; p++) {
    for (let r = 0; r < oh; r++) {
      for (let q = 0; q < ow; q++) {
        let acc = kind === "max" ? Number.NEGATIVE_INFINITY : 0;
        let seen = false;
        for (let i = 0; i < at.kernel[0]; i++) {
          const hi = r * at.stride[0] - at.padding[0] + i;
          if (hi < 0 || hi >= h) continue;
          for (let j = 0; j < at.kernel[1]; j++) {
            const wi = q * at.stride[1] - at.padding[1] + j;
            if (wi < 0 || wi >= w) continue;
            const v = xs[(p * h + hi) * w + wi];
            if (kind === "avg") acc += v;
            else if (!seen || v > acc || (Number.isNaN(v) && !Number.isNaN(acc))) acc = v;
            seen = true;
          }
        }
        ys[(p * oh + r) * ow + q] = store(
          "float32",
          kind === "avg" ? acc / (at.kernel[0] * at.kernel[1]) : acc,
        );
      }
    }
  }
}

function checkIndex(op: string, v: number, position: number, dim: number): number {
  const r = v < 0 ? v + dim : v;
  if (!(r >= 0 && r < dim)) {
    throw new Error(
      `${op}: index ${v} at position ${position} is out of range for a dimension of size ${dim}`,
    );
  }
  return r;
}

let registered = false;
/** Registers the reference backend under the name "reference" (never the default). */
export function registerReferenceBackend(): void {
  if (registered) return;
  registered = true;
  registerBackend("reference", () => new ReferenceBackend(), 0);
}
