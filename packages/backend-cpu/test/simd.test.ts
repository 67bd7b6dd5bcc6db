import "../src/index";
import * as mb from "@minibatch/tensor";
import { type TensorInfo, UNARY_SPECS, type UnaryOp } from "@minibatch/tensor";
import { beforeAll, describe, expect, it } from "vitest";
import { CpuBackend, type CpuData } from "../src/backend";
import { UNARY_CPU } from "../src/kernels/elementwise";
import { fastExtremeF32, fastSumF32, fastUnaryF32, UNARY_SIMD } from "../src/kernels/simd";
import { initWasm } from "../src/wasm/runtime";
import { rng } from "./rng";

const backend = new CpuBackend();

beforeAll(async () => {
  expect(await initWasm(), "the wasm kernels should load on Node 20").toBe(true);
});

/** A float32 tensor holding `values`; `resident: false` makes an ordinary array (copied in). */
function tensor(values: ArrayLike<number>, shape = [values.length], resident = true): TensorInfo {
  const size = values.length;
  const dataId: CpuData = resident
    ? backend.alloc(size, "float32")
    : { values: new Float32Array(size), dtype: "float32", size, ptr: -1 };
  dataId.values.set(values);
  return { dataId, shape, dtype: "float32", size };
}

/** An output tensor (NaN-filled by MINIBATCH_CPU_POISON, so unwritten elements show). */
function output(shape: number[]): TensorInfo {
  const size = shape.reduce((a, b) => a * b, 1);
  return { dataId: backend.alloc(size, "float32"), shape, dtype: "float32", size };
}

const vals = (t: TensorInfo) => (t.dataId as CpuData).values as Float32Array;

/** The spacing of float32 values at |v| (2^-149 among the subnormals). */
function ulp(v: number): number {
  const a = Math.abs(Math.fround(v));
  if (a < 2 ** -126) return 2 ** -149;
  return 2 ** (Math.floor(Math.log2(a)) - 23);
}

const EDGES = [
  0,
  -0,
  1e-45,
  -1e-45,
  1e-40,
  -1e-40,
  1.1754943508222875e-38,
  -1.1754943508222875e-38,
  1e-30,
  -1e-30,
  1e-7,
  -1e-7,
  0.5,
  -0.5,
  1,
  -1,
  -0.9999999,
  2,
  0.3466,
  -0.3466,
  Math.SQRT1_2,
  Math.SQRT2,
  9,
  -9,
  17.33,
  -17.33,
  19.99,
  20,
  20.001,
  -20,
  87.33,
  -87.33,
  88.7,
  -88.7,
  88.72283172607422,
  88.72283935546875,
  -88.72283935546875,
  89,
  -103.28,
  -103.97,
  -104,
  1000,
  -1000,
  3.4e38,
  -3.4e38,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  Number.NaN,
];

/** Edge cases, random float32 bit patterns (every magnitude) and dense sweeps of the busy ranges. */
function sweep(): Float32Array {
  const r = rng(7);
  const n = 1 << 18;
  const xs = new Float32Array(n);
  const bits = new Uint32Array(xs.buffer);
  xs.set(EDGES);
  let i = EDGES.length;
  for (; i < 65536; i++) bits[i] = Math.floor(r() * 4294967296) >>> 0;
  for (let k = 0; k < 98304; k++, i++) xs[i] = -110 + (220 * k) / 98304;
  for (let k = 0; k < 65536; i++, k++) xs[i] = -3 + (6 * k) / 65536;
  for (; i < n; i++) xs[i] = (r() - 0.5) * 2 ** (-40 + 40 * r());
  return xs;
}

/** The most ulp each op may be off the float64 reference, rounded to float32 (measured + margin). */
const MAX_ULP: { [K in UnaryOp]?: number } = {
  neg: 0,
  abs: 0,
  sign: 0,
  relu: 0,
  sqrt: 0.5,
  rsqrt: 0.5, // float64 lanes, rounded once (as the TypeScript kernel)
  exp: 1,
  expm1: 2,
  log: 2,
  log1p: 2,
  softplus: 2,
  sigmoid: 3,
  tanh: 3,
  gelu: 7,
};

/**
 * erfc in float64, accurate relative to its value also in the tail: the spec's float64 gelu
 * reference computes 1 + erf(x / sqrt2), which cancels for x below about -5 (and gives 0 below
 * about -8.3), so gelu is checked against x Phi(x) written through erfc instead.
 */
function erfc64(z: number): number {
  if (z < 2.5) return 1 - erf64(z);
  let f = 0;
  for (let k = 80; k >= 1; k--) f = k / 2 / (z + f);
  return Math.exp(-z * z) / Math.sqrt(Math.PI) / (z + f);
}

/** erf in float64 from its Maclaurin series (|z| < 2.5 here). */
function erf64(z: number): number {
  let term = z;
  let sum = z;
  for (let n = 1; n < 80; n++) {
    term *= (-z * z) / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

/** The float64 references: the spec's, but gelu's through erfc (past |x| / sqrt2 = 6 the spec's exact x and -0). */
const REF: { [K in UnaryOp]?: (x: number) => number } = {
  gelu: (x) => {
    if (Math.abs(x) / Math.SQRT2 > 6 || x !== x) return UNARY_SPECS.gelu.ref(x);
    return x > 0 ? x * (1 - 0.5 * erfc64(x / Math.SQRT2)) : 0.5 * x * erfc64(-x / Math.SQRT2);
  },
};

/** Ops whose SIMD kernel gives exactly the TypeScript kernel's float32 values (checked for all values). */
const SAME_AS_TS = new Set<UnaryOp>(["neg", "abs", "sign", "relu", "sqrt", "rsqrt"]);

describe("float32 unary ops in wasm SIMD", () => {
  const xs = sweep();
  const ops = Object.keys(UNARY_SIMD) as UnaryOp[];

  it("cover every op with a bound", () => {
    expect(ops.sort()).toEqual((Object.keys(MAX_ULP) as UnaryOp[]).sort());
  });

  for (const op of ops) {
    it(`${op}: within ${MAX_ULP[op]} ulp of the float64 reference, special values as the TypeScript kernel`, () => {
      const x = tensor(xs);
      const y = output([xs.length]);
      expect(fastUnaryF32(op, x, y)).toBe(true);
      const got = vals(y);
      const ref = REF[op] ?? UNARY_SPECS[op].ref;
      let worst = 0;
      let worstAt = 0;
      for (let i = 0; i < xs.length; i++) {
        const v = xs[i];
        const r = ref(v);
        const g = got[i];
        const r32 = Math.fround(r);
        if (SAME_AS_TS.has(op) || Number.isNaN(r) || !Number.isFinite(r32) || r === 0) {
          // NaN, overflow, exact zeros (and every value of SAME_AS_TS): the TypeScript kernel's
          // value, sign of zero included
          const ts = Math.fround(UNARY_CPU[op](v));
          if (!Object.is(g, ts)) expect(`${op}(${v}) = ${g}`).toBe(`${op}(${v}) = ${ts}`);
          continue;
        }
        const e = Math.abs(g - r) / ulp(r);
        if (!(e <= worst)) {
          worst = e;
          worstAt = i;
        }
      }
      const at = `${op}(${xs[worstAt]}) = ${got[worstAt]}, reference ${ref(xs[worstAt])}: ${worst.toFixed(3)} ulp`;
      expect(worst, at).toBeLessThanOrEqual(MAX_ULP[op] ?? 0);
      backend.free(x.dataId);
      backend.free(y.dataId);
    });
  }

  it("write every element whatever n % 4 is, and copy in operands outside wasm memory", () => {
    const r = rng(3);
    for (const n of [64, 65, 66, 67, 68, 71, 4097, 4099]) {
      for (const resident of [true, false]) {
        const v = Array.from({ length: n }, () => (r() - 0.5) * 8);
        const x = tensor(v, [n], resident);
        const y = output([n]);
        expect(fastUnaryF32("sigmoid", x, y)).toBe(resident || n >= 4096);
        if (!resident && n < 4096) continue;
        const got = vals(y);
        for (let i = 0; i < n; i++) expect(Math.abs(got[i] - 1 / (1 + Math.exp(-v[i])))).toBeLessThan(1e-7);
      }
    }
  });

  it("compute the last n % 4 values as the others, for every op", () => {
    const r = rng(5);
    const v = Array.from({ length: 72 }, () => (r() - 0.5) * 30);
    for (const op of ops) {
      const full = output([72]);
      expect(fastUnaryF32(op, tensor(v), full)).toBe(true);
      for (const n of [65, 66, 67]) {
        const y = output([n]);
        expect(fastUnaryF32(op, tensor(v.slice(0, n)), y)).toBe(true);
        expect(Array.from(vals(y)), `${op}, n = ${n}`).toEqual(Array.from(vals(full).subarray(0, n)));
      }
    }
  });

  it("leave small tensors and other dtypes to the TypeScript loop", () => {
    expect(fastUnaryF32("exp", tensor([1, 2, 3], [3], false), output([3]))).toBe(false);
    const big = tensor(new Float32Array(100));
    expect(fastUnaryF32("atan", big, output([100]))).toBe(false); // no SIMD kernel
    const ints: TensorInfo = {
      dataId: backend.alloc(100, "int32"),
      shape: [100],
      dtype: "int32",
      size: 100,
    };
    expect(fastUnaryF32("neg", ints, ints)).toBe(false);
  });

  it("run through the public ops, forward and gradient", async () => {
    await mb.setBackend("cpu");
    const n = 6000;
    const v = Array.from({ length: n }, (_, i) => (i - n / 2) / 300);
    const x = mb.tensor(v, [n], { requiresGrad: true });
    const y = mb.sigmoid(x).dataSync();
    const t = mb.tanh(x).dataSync();
    for (let i = 0; i < n; i += 7) {
      expect(Math.abs(y[i] - 1 / (1 + Math.exp(-v[i])))).toBeLessThan(2e-7);
      expect(Math.abs(t[i] - Math.tanh(v[i]))).toBeLessThan(3e-7);
    }
    mb.sigmoid(x).sum().backward();
    const g = x.grad?.dataSync() ?? [];
    expect(g.length).toBe(n);
    for (let i = 0; i < n; i += 7) {
      const s = 1 / (1 + Math.exp(-v[i]));
      expect(Math.abs(g[i] - s * (1 - s))).toBeLessThan(1e-6);
    }
  });
});

describe("float32 sums in wasm SIMD", () => {
  // Terms with few significant bits, so every float64 sum below is exact whatever the order: the
  // kernel must then give exactly the float64 sum rounded once to float32.
  const r = rng(11);
  const term = () => Math.round((r() - 0.5) * 2 ** 20) / 2 ** 10;

  function exact(v: ArrayLike<number>, outer: number, reduce: number, inner: number): Float32Array {
    const y = new Float32Array(outer * inner);
    for (let o = 0; o < outer; o++)
      for (let i = 0; i < inner; i++) {
        let s = 0;
        for (let k = 0; k < reduce; k++) s += v[(o * reduce + k) * inner + i];
        y[o * inner + i] = s;
      }
    return y;
  }

  const shapes: [number, number, number][] = [
    [1, 6000, 1], // a whole tensor
    [3, 1001, 1], // row sums, reduce % 8 != 0
    [40, 7, 1], // rows shorter than a vector
    [1, 60, 100], // bias gradient: [60, 100] over axis 0
    [1, 200, 8],
    [1, 100, 12], // 8 + 4 columns
    [2, 33, 19], // 8 + 8 + scalar columns
    [5, 4, 13],
    [4, 50, 3], // inner < 4
    [1, 1, 128],
    [7, 0, 16], // empty reduction: zeros
  ];
  for (const [outer, reduce, inner] of shapes) {
    it(`[${outer}, ${reduce}, ${inner}] equals the float64 sum`, () => {
      const n = outer * reduce * inner;
      const v = Array.from({ length: n }, term);
      for (const resident of n >= 64 ? [true, false] : [true]) {
        const x = tensor(v, [n], resident);
        const y = output([outer * inner]);
        const ran = fastSumF32(x, y, { outer, reduce, inner });
        expect(ran).toBe(n >= 64 && (resident || n >= 4096));
        if (ran) expect(Array.from(vals(y))).toEqual(Array.from(exact(v, outer, reduce, inner)));
      }
    });
  }

  it("accumulate in float64: large and small terms", () => {
    // 1e8 then 4000 ones and -1e8: float32 accumulation would lose every 1
    const v = [1e8, ...new Array(4000).fill(1), -1e8];
    for (const inner of [1, 4]) {
      const x = tensor(v.flatMap((t) => new Array(inner).fill(t)));
      const y = output([inner]);
      expect(fastSumF32(x, y, { outer: 1, reduce: v.length, inner })).toBe(true);
      expect(Array.from(vals(y))).toEqual(new Array(inner).fill(4000));
    }
  });

  it("propagate NaN and infinities", () => {
    const v = new Array(256).fill(1);
    v[5] = Number.NaN;
    v[130] = Number.POSITIVE_INFINITY;
    v[200] = Number.NEGATIVE_INFINITY;
    const x = tensor(v);
    const y = output([2]);
    expect(fastSumF32(x, y, { outer: 2, reduce: 128, inner: 1 })).toBe(true);
    expect(Array.from(vals(y))).toEqual([Number.NaN, Number.NaN]);
    v[5] = 1;
    v[200] = 1;
    const x2 = tensor(v);
    expect(fastSumF32(x2, y, { outer: 2, reduce: 128, inner: 1 })).toBe(true);
    expect(Array.from(vals(y))).toEqual([128, Number.POSITIVE_INFINITY]);
  });

  it("run through mb.sum (all, rows, columns)", async () => {
    await mb.setBackend("cpu");
    const v = Array.from({ length: 60 * 100 }, term);
    const x = mb.reshape(mb.tensor(v), [60, 100]);
    expect(Array.from(mb.sum(x, 0).dataSync())).toEqual(Array.from(exact(v, 1, 60, 100)));
    expect(Array.from(mb.sum(x, 1).dataSync())).toEqual(Array.from(exact(v, 60, 100, 1)));
    expect(mb.sum(x).dataSync()[0]).toBe(Math.fround(v.reduce((a, b) => a + b, 0)));
  });
});

describe("float32 max and min in wasm SIMD", () => {
  const r = rng(23);

  /** NaN if a value is NaN, else the largest (smallest); of equal ones the first (±0). */
  function want(v: number[], outer: number, reduce: number, inner: number, isMax: boolean): number[] {
    const y: number[] = [];
    for (let o = 0; o < outer; o++)
      for (let i = 0; i < inner; i++) {
        const col = Array.from({ length: reduce }, (_, k) => v[(o * reduce + k) * inner + i]);
        if (col.some(Number.isNaN)) {
          y.push(Number.NaN);
          continue;
        }
        const m = isMax ? Math.max(...col) : Math.min(...col);
        y.push(col.find((c) => c === m) as number); // the first of +0 and -0
      }
    return y;
  }

  const shapes: [number, number, number][] = [
    [1, 6000, 1],
    [60, 10, 1], // softmax rows
    [30, 7, 1], // rows shorter than 8
    [9, 19, 1],
    [1, 60, 100], // over the leading axis
    [3, 17, 6], // 4 + scalar columns
    [2, 40, 3],
  ];
  for (const [outer, reduce, inner] of shapes) {
    it(`[${outer}, ${reduce}, ${inner}]: values, ±0, ±Inf and NaN as the TypeScript kernel`, () => {
      const n = outer * reduce * inner;
      for (const kind of ["plain", "zeros", "specials"]) {
        const v = Array.from({ length: n }, () => {
          const u = r();
          if (kind === "zeros") return u < 0.5 ? 0 : -0;
          if (kind === "specials" && u < 0.02) return Number.NaN;
          if (kind === "specials" && u < 0.04)
            return u < 0.03 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
          return Math.fround((r() - 0.5) * 100);
        });
        if (kind === "plain") v[n - 1] = 1e6; // the maximum in a tail element
        for (const isMax of [true, false]) {
          const x = tensor(v);
          const y = output([outer * inner]);
          expect(fastExtremeF32(x, y, { outer, reduce, inner }, isMax)).toBe(n >= 64);
          if (n < 64) continue;
          const got = Array.from(vals(y));
          const exp = want(v, outer, reduce, inner, isMax);
          for (let i = 0; i < exp.length; i++)
            if (!Object.is(got[i], exp[i]))
              expect(`${kind} ${isMax ? "max" : "min"} [${i}] = ${got[i]}`).toBe(
                `${kind} ${isMax ? "max" : "min"} [${i}] = ${exp[i]}`,
              );
        }
      }
    });
  }

  it("run through mb.max and mb.min", async () => {
    await mb.setBackend("cpu");
    const v = Array.from({ length: 6000 }, () => Math.fround(r() * 10 - 5));
    const x = mb.reshape(mb.tensor(v), [60, 100]);
    expect(Array.from(mb.max(x, 1).dataSync())).toEqual(want(v, 60, 100, 1, true));
    expect(Array.from(mb.min(x, 0).dataSync())).toEqual(want(v, 1, 60, 100, false));
  });
});
