/**
 * Per-kernel smoke tests: every kernel runs on the CPU backend (the reference) and on WebGPU
 * with the same inputs, and the results must agree. The lead's conformance suite covers the
 * public ops more broadly; these aim at the GPU-specific edges (grid folding, tree reductions,
 * tiles, strides after merging, NaN and infinities).
 */
import "@minibatch/backend-cpu";
import * as mb from "@minibatch/tensor";
import { setBackend, type Tensor, type TypedArray } from "@minibatch/tensor";
import { beforeAll, describe, expect, it } from "vitest";
import { WebGPUBackend } from "./index";
import { adapterStatus } from "./test-util";

const status = await adapterStatus();
/** Ops by name, for loops over op lists. */
const M: Record<string, (...args: any[]) => Tensor> = { ...mb } as any;

type Maker = (be: string) => Tensor | Tensor[] | Record<string, Tensor>;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randArr(n: number, seed = 1, lo = -2, hi = 2): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
}

const SPECIAL = [
  0,
  -0,
  1,
  -1,
  0.5,
  -0.5,
  2,
  -3,
  1e-7,
  -1e-7,
  30,
  -30,
  100,
  -100,
  1e30,
  -1e30,
  Infinity,
  -Infinity,
  NaN,
  3.5,
  -2.25,
];

function close(a: TypedArray, b: TypedArray, rtol: number, atol: number): string | null {
  if (a.length !== b.length) return `length ${a.length} vs ${b.length}`;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (Number.isNaN(x) && Number.isNaN(y)) continue;
    if (x === y) continue;
    if (!Number.isFinite(x) || !Number.isFinite(y) || Math.abs(x - y) > atol + rtol * Math.abs(y)) {
      return `index ${i}: webgpu ${x} vs cpu ${y}`;
    }
  }
  return null;
}

function flatten(r: ReturnType<Maker>): Tensor[] {
  if (Array.isArray(r)) return r;
  if (r instanceof mb.Tensor) return [r];
  return Object.values(r);
}

/** Runs `make` on both backends and compares every output tensor (values, shape, dtype). */
async function same(make: Maker, rtol = 1e-5, atol = 1e-6): Promise<void> {
  const ref = flatten(make("cpu"));
  const got = flatten(make("webgpu"));
  expect(got.length).toBe(ref.length);
  for (let k = 0; k < ref.length; k++) {
    expect(got[k].shape).toEqual(ref[k].shape);
    expect(got[k].dtype).toBe(ref[k].dtype);
    const [g, c] = await Promise.all([got[k].data(), ref[k].data()]);
    expect(g.constructor).toBe(c.constructor);
    const err = close(g, c, rtol, atol);
    if (err) throw new Error(`output ${k}: ${err}`);
  }
}

const t = (be: string, v: ArrayLike<number>, shape: number[], dtype: mb.DType = "float32") =>
  mb.fromArray(
    dtype === "float32" ? Float32Array.from(v) : dtype === "int32" ? Int32Array.from(v) : Uint8Array.from(v),
    shape,
    dtype,
    { backend: be },
  );

/**
 * The kernel-level product of [m, k] and [k, n] values on both backends, for each (transA, transB):
 * as rank-3 operands of one product and as matrices, so both forms of `mm` are compared.
 */
async function sameTransposed(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  m: number,
  k: number,
  n: number,
  combos: [boolean, boolean][],
): Promise<void> {
  for (const [ta, tb] of combos) {
    const sa = [ta ? k : m, ta ? m : k];
    const sb = [tb ? n : k, tb ? k : n];
    await same((be) => mb.mm(t(be, a, [1, ...sa]), t(be, b, [1, ...sb]), ta, tb), 1e-4, 1e-5);
    await same((be) => mb.mm(t(be, a, sa), t(be, b, sb), ta, tb), 1e-4, 1e-5);
  }
}

/**
 * Runs `fn` with the webgpu backend's kernel choices overridden (the matmul tile, the software
 * adapter's serial reductions), so each path is tested on any adapter; restores them after.
 */
async function withChoices(
  choices: Partial<Pick<WebGPUBackend, "matmulTile" | "software">>,
  fn: () => Promise<void>,
): Promise<void> {
  const b = await setBackend("webgpu");
  await setBackend("cpu");
  if (!(b instanceof WebGPUBackend)) throw new Error("not the webgpu backend");
  const saved = { matmulTile: b.matmulTile, software: b.software };
  Object.assign(b, choices);
  try {
    await fn();
  } finally {
    Object.assign(b, saved);
  }
}

/** The pipeline keys of the webgpu dispatches made while `fn` runs. */
async function dispatchKeys(fn: () => Promise<void>): Promise<Set<string>> {
  const b = (await setBackend("webgpu")) as WebGPUBackend;
  await setBackend("cpu");
  const keys = new Set<string>();
  const dispatch = b.dispatch;
  b.dispatch = function (this: WebGPUBackend, key, ...rest) {
    keys.add(key);
    return dispatch.call(this, key, ...rest);
  };
  try {
    await fn();
  } finally {
    b.dispatch = dispatch;
  }
  return keys;
}

describe.skipIf(!status.available)(
  `webgpu kernels vs cpu${status.available ? "" : ` (skipped: ${status.reason})`}`,
  () => {
    beforeAll(async () => {
      await setBackend("cpu");
      await setBackend("webgpu");
      await setBackend("cpu");
    });

    it("unary float ops, including NaN, infinities and signed zero", async () => {
      const ops = [
        "neg",
        "abs",
        "sign",
        "exp",
        "log",
        "sqrt",
        "rsqrt",
        "relu",
        "sigmoid",
        "tanh",
        "gelu",
      ] as const;
      const vals = [...SPECIAL, ...randArr(300, 3, -6, 6)];
      for (const op of ops) {
        await same((be) => M[op](t(be, vals, [vals.length])), 2e-5, 1e-6).catch((e) => {
          throw new Error(`${op}: ${e.message}`);
        });
      }
    });

    it("gelu and tanh precision in the tails", async () => {
      const vals = Array.from({ length: 200 }, (_, i) => -10 + i * 0.1);
      await same((be) => mb.gelu(t(be, vals, [vals.length])), 1e-5, 1e-7);
      await same((be) => mb.tanh(t(be, [1e-4, -1e-4, 1e-3, 0.01, 0.1, 5, 9, 20], [8])), 1e-5, 1e-9);
    });

    it("unary int ops, logicalNot, clamp", async () => {
      const ints = [0, 1, -1, 5, -7, 2147483647, -2147483647, 123456];
      for (const op of ["neg", "abs", "sign", "relu"] as const) {
        await same((be) => M[op](t(be, ints, [ints.length], "int32")));
      }
      await same((be) => mb.logicalNot(t(be, [0, 1, 1, 0], [4], "bool")));
      await same((be) => mb.logicalNot(t(be, [0, 2.5, NaN, -0], [4])));
      await same((be) => mb.clamp(t(be, SPECIAL, [SPECIAL.length]), -1.5, 2));
      await same((be) => mb.clamp(t(be, SPECIAL, [SPECIAL.length]), null, 0));
      await same((be) => mb.clamp(t(be, ints, [ints.length], "int32"), -3, 4));
      await same((be) => mb.clamp(t(be, ints, [ints.length], "int32"), 0, null));
    });

    it("cast between every pair of dtypes", async () => {
      const vals = [...SPECIAL, 2.9, -2.9, 3e9, -3e9, 2 ** 31, -(2 ** 31)];
      const dts: mb.DType[] = ["float32", "int32", "bool"];
      for (const from of dts) {
        for (const to of dts) {
          const src =
            from === "float32"
              ? vals
              : from === "int32"
                ? [0, 1, -1, 7, -2147483648, 2147483647]
                : [0, 1, 1, 0];
          await same((be) => mb.cast(t(be, src, [src.length], from), to)).catch((e) => {
            throw new Error(`${from} -> ${to}: ${e.message}`);
          });
        }
      }
    });

    it("binary ops with broadcasting, float and int", async () => {
      const ops = [
        "add",
        "sub",
        "mul",
        "div",
        "pow",
        "maximum",
        "minimum",
        "eq",
        "ne",
        "lt",
        "le",
        "gt",
        "ge",
      ] as const;
      const a = randArr(3 * 1 * 4, 5);
      const b = randArr(2 * 4, 6);
      for (const op of ops) {
        await same((be) => M[op](t(be, a, [3, 1, 4]), t(be, b, [2, 4])), 2e-5, 1e-6);
        await same(
          (be) => M[op](t(be, [1, -2, 3, 4, 0, 9], [2, 3], "int32"), t(be, [2, 0, -1], [3], "int32")),
          2e-5,
        );
        await same((be) => M[op](t(be, a, [3, 1, 4]), 0.5));
        // transposed (non-contiguous) operands stay views: strides reach the kernel
        await same((be) => M[op](mb.transpose(t(be, a, [3, 4])), t(be, b.slice(0, 3), [3])));
      }
    });

    it("pow follows Math.pow on special values", async () => {
      const xs = [0, -0, 1, -1, 2, -2, 0.5, -0.5, 3, Infinity, -Infinity, NaN, 10];
      const ys = [0, -0, 1, -1, 2, -2, 3, -3, 0.5, -0.5, 2.5, 40, 33, -33, Infinity, -Infinity, NaN];
      const a: number[] = [];
      const b: number[] = [];
      for (const x of xs)
        for (const y of ys) {
          a.push(x);
          b.push(y);
        }
      await same((be) => mb.pow(t(be, a, [a.length]), t(be, b, [b.length])), 2e-6, 1e-30);
    });

    it("NaN in maximum/minimum and comparisons", async () => {
      const a = [NaN, 1, NaN, -Infinity, 0];
      const b = [1, NaN, NaN, 2, -0];
      for (const op of ["maximum", "minimum", "eq", "ne", "lt", "ge"] as const) {
        await same((be) => M[op](t(be, a, [5]), t(be, b, [5])));
      }
    });

    it("where with broadcast condition", async () => {
      await same((be) =>
        mb.where(t(be, [1, 0, 1], [3, 1], "bool"), t(be, randArr(12, 2), [3, 4]), t(be, randArr(4, 3), [4])),
      );
      await same((be) => mb.where(t(be, [0, 1], [2], "bool"), t(be, [1, 2], [2], "int32"), 7));
    });

    it.each([false, true])(
      "reductions: sum/max/min/argmax/argmin over many layouts and lengths (serial: %s)",
      async (software) => {
        // serial: one thread per output up to 1024 values (software adapters), trees beyond
        const shapes: [number[], number | number[] | undefined][] = [
          [[5, 7], 1],
          [[5, 7], 0],
          [[3, 100, 4], 1],
          [[2, 3000], 1],
          [
            [4, 5, 6],
            [0, 2],
          ],
          [[70000], undefined],
          [[3, 4], undefined],
          [[0, 4], 0],
          [[1024, 3], 0],
          [[3, 1025], 1],
        ];
        await withChoices({ software }, async () => {
          for (const [shape, axis] of shapes) {
            const n = shape.reduce((p, c) => p + c, 1) && shape.reduce((p, c) => p * c, 1);
            const v = randArr(n, n + 1, -5, 5);
            if (n > 0) v[(n * 7) >> 3] = NaN;
            await same((be) => mb.sum(t(be, v, shape), axis), 1e-4, 1e-4);
            if (n === 0) continue;
            await same((be) => mb.max(t(be, v, shape), axis));
            await same((be) => mb.min(t(be, v, shape), axis));
            if (typeof axis === "number") {
              await same((be) => mb.argmax(t(be, v, shape), axis));
              await same((be) => mb.argmin(t(be, v, shape), axis));
            }
          }
        });
      },
    );

    it("arg reductions pick the first extreme; NaN propagates", async () => {
      const v = [1, 3, 3, 2, NaN, 5, NaN, 0];
      await same((be) => mb.argmax(t(be, v, [8])));
      await same((be) => mb.argmin(t(be, v, [8])));
      await same((be) => mb.max(t(be, v, [2, 4]), 1));
      await same((be) => mb.argmax(t(be, [2, 2, 2, 2], [4])));
      const long = Array.from({ length: 5000 }, (_, i) => (i % 7 === 3 ? 9 : i % 5));
      await same((be) => mb.argmax(t(be, long, [5000])));
      await same((be) => mb.argmin(t(be, long, [1, 5000]), 1));
      long[4000] = NaN;
      long[4500] = NaN;
      await same((be) => mb.argmax(t(be, long, [5000])));
      await same((be) => mb.max(t(be, long, [5000])));
      await same((be) => mb.sum(t(be, [1, 2, 3, 4], [4], "int32")));
      await same((be) => mb.max(t(be, [1, -2, 3, 4], [2, 2], "int32"), 0));
      await same((be) => mb.sum(t(be, [1, 0, 1, 1], [4], "bool")));
    });

    it("matmul: shapes around the tile size, transposes, batch broadcasting", async () => {
      const cases: [number, number, number][] = [
        [1, 1, 1],
        [3, 5, 2],
        [64, 64, 64],
        [65, 17, 130],
        [100, 33, 7],
      ];
      for (const [m, k, n] of cases) {
        const a = randArr(m * k, m);
        const b = randArr(k * n, n);
        await same((be) => mb.matmul(t(be, a, [m, k]), t(be, b, [k, n])), 1e-4, 1e-5);
        await sameTransposed(a, b, m, k, n, [
          [true, false],
          [false, true],
          [true, true],
        ]);
      }
      const a = randArr(3 * 4 * 5, 9);
      const b = randArr(5 * 6, 10);
      await same((be) => mb.matmul(t(be, a, [3, 4, 5]), t(be, b, [5, 6])), 1e-4, 1e-5);
      await same((be) => mb.matmul(t(be, b, [6, 5]), t(be, a, [3, 5, 4])), 1e-4, 1e-5);
      await same((be) => mb.matmul(t(be, a, [3, 4, 5]), t(be, a, [3, 5, 4])), 1e-4, 1e-5);
      await same((be) => mb.matmul(t(be, [], [2, 0]), t(be, [], [0, 3])));
    });

    it("matmul on software adapters: the vec4 form where rows allow it, the scalar form elsewhere", async () => {
      // [m, k, n]: every form vec4 ([36, 20, 72]: partial workgroups on each edge, for both the
      // 4x4 and the 8x8 blocks), or only some of them (m, k or n not a multiple of 4).
      const cases: [number, number, number][] = [
        [4, 4, 4],
        [36, 20, 72],
        [60, 100, 100],
        [20, 60, 68],
        [30, 20, 44],
        [12, 8, 10],
        [8, 10, 8],
        [1, 4, 3],
      ];
      const keys = await dispatchKeys(() =>
        withChoices({ matmulTile: "small" }, async () => {
          for (const [m, k, n] of cases) {
            const a = randArr(m * k, m + k);
            const b = randArr(k * n, n + 1);
            await sameTransposed(a, b, m, k, n, [
              [false, false],
              [true, false],
              [false, true],
              [true, true],
            ]);
          }
          // batches: A batched with B broadcast, the reverse, both batched
          const a = randArr(3 * 8 * 12, 9);
          const b = randArr(3 * 12 * 16, 10);
          await same((be) => mb.matmul(t(be, a, [3, 8, 12]), t(be, b.slice(0, 192), [12, 16])), 1e-4, 1e-5);
          await same((be) => mb.matmul(t(be, b.slice(0, 192), [16, 12]), t(be, a, [3, 12, 8])), 1e-4, 1e-5);
          await same((be) => mb.matmul(t(be, a, [3, 8, 12]), t(be, b, [3, 12, 16])), 1e-4, 1e-5);
          await same((be) => mb.mm(t(be, a, [3, 12, 8]), t(be, b, [3, 12, 16]), true, false), 1e-4, 1e-5);
          // non-finite values stay in their own rows and columns
          const nf = randArr(8 * 8, 11);
          nf[3] = NaN;
          nf[17] = Infinity;
          nf[60] = -Infinity;
          for (const [ta, tb] of [
            [false, true],
            [true, false],
          ]) {
            await same(
              (be) => mb.mm(t(be, nf, [1, 8, 8]), t(be, randArr(64, 12), [1, 8, 8]), ta, tb),
              1e-4,
              1e-5,
            );
          }
        }),
      );
      for (const form of ["NN", "TN", "NT", "TT"]) {
        expect(keys).toContain(`matmul:small4:${form}`);
        expect(keys).toContain(`matmul:small:${form}`);
      }
    });

    it("strided views: permute, expand, slice; concat, gather, scatterAdd", async () => {
      const v = randArr(2 * 3 * 4 * 5, 4);
      await same((be) => mb.permute(t(be, v, [2, 3, 4, 5]), [3, 1, 0, 2]));
      await same((be) => mb.expand(t(be, v.slice(0, 4), [4, 1]), [3, 4, 6]));
      await same((be) => mb.slice(t(be, v, [2, 3, 4, 5]), [1, 1, 0, 2], [1, 2, -1, 2]));
      await same((be) =>
        mb.concat(
          [t(be, v.slice(0, 6), [2, 3]), t(be, v.slice(6, 10), [2, 2]), t(be, v.slice(10, 12), [2, 1])],
          1,
        ),
      );
      await same((be) => mb.concat([t(be, [1, 0], [2], "bool"), t(be, [1], [1], "bool")]));
      await same((be) => mb.indexSelect(t(be, v.slice(0, 24), [4, 6]), 0, [3, -1, 0, 0]));
      await same((be) => mb.indexSelect(t(be, v.slice(0, 24), [4, 6]), 1, t(be, [5, 0, -2], [3], "int32")));
      await same((be) => mb.scatterAdd(t(be, v.slice(0, 12), [3, 4]), 0, t(be, [2, 0, 2], [3], "int32"), 4));
      await same((be) =>
        mb.scatterAdd(t(be, v.slice(0, 12), [3, 4]), 1, t(be, [1, -1, 1, 0], [4], "int32"), 3),
      );
      await same((be) => mb.clone(t(be, [1, 2, 3], [3], "int32")));
    });

    it("conv2d and its gradients (stride, padding, dilation, groups)", async () => {
      const configs: [number[], number[], mb.Conv2dOptions][] = [
        [[2, 3, 7, 6], [4, 3, 3, 3], {}],
        [[1, 4, 9, 9], [6, 2, 3, 2], { stride: [2, 1], padding: [1, 2], dilation: [2, 1], groups: 2 }],
        [[2, 2, 5, 5], [2, 2, 1, 1], { stride: 2 }],
      ];
      for (const [xs, ws, opts] of configs) {
        const xv = randArr(
          xs.reduce((p, c) => p * c),
          11,
        );
        const wv = randArr(
          ws.reduce((p, c) => p * c),
          12,
        );
        await same(
          (be) => {
            const x = t(be, xv, xs).requiresGrad_();
            const w = t(be, wv, ws).requiresGrad_();
            const y = mb.conv2d(x, w, null, opts);
            mb.sum(mb.mul(y, y)).backward();
            return [y, x.grad!, w.grad!];
          },
          1e-4,
          1e-4,
        );
      }
    });

    it("max/avg pooling and their gradients", async () => {
      const xs = [2, 3, 7, 8];
      const xv = randArr(
        xs.reduce((p, c) => p * c),
        13,
      );
      xv[5] = xv[6]; // a tie inside one window
      for (const [k, opts] of [
        [2, {}],
        [3, { stride: 2, padding: 1 }],
        [[3, 2], { stride: [1, 2] }],
      ] as [number | [number, number], mb.Pool2dOptions][]) {
        for (const op of ["maxPool2d", "avgPool2d"] as const) {
          await same(
            (be) => {
              const x = t(be, xv, xs).requiresGrad_();
              const y = M[op](x, k, opts);
              mb.sum(mb.mul(y, t(be, randArr(y.size, 14), y.shape as number[]))).backward();
              return [y, x.grad!];
            },
            1e-5,
            1e-6,
          );
        }
      }
    });

    it.each([false, true])("batchNormTrain and its gradient (serial: %s)", async (software) => {
      await withChoices({ software }, async () => {
        for (const shape of [
          [4, 3, 5, 5],
          [300, 2],
          [2, 5],
          [1100, 3],
        ]) {
          const n = shape.reduce((p, c) => p * c);
          const xv = randArr(n, 15, -3, 5);
          const c = shape[1];
          await same(
            (be) => {
              const x = t(be, xv, shape).requiresGrad_();
              const g = t(be, randArr(c, 16), [c]).requiresGrad_();
              const b = t(be, randArr(c, 17), [c]).requiresGrad_();
              const r = mb.batchNormTrain(x, g, b);
              mb.sum(mb.mul(r.y, t(be, randArr(n, 18), shape))).backward();
              return [r.y, r.mean, r.invstd, r.varUnbiased, x.grad!, g.grad!, b.grad!];
            },
            1e-4,
            1e-4,
          );
        }
      });
    });

    it("grids past 65535 workgroups fold into two dimensions", async () => {
      // 65600 x 256 elements need 65600 workgroups of 256 threads; built on the GPU (expand), so
      // nothing large crosses the bus. Partial sums are integers below 2^24: exact in f32.
      const rows = 65600;
      const got = await mb
        .sum(mb.expand(mb.arange(0, 256, 1, { dtype: "float32", backend: "webgpu" }), [rows, 256]), 0)
        .data();
      for (let i = 0; i < 256; i++) expect(got[i]).toBe(rows * i);
    });

    it("zero-size tensors and bool reads", async () => {
      const b = await setBackend("webgpu");
      const e = t("webgpu", [], [0, 3]);
      const y = mb.exp(e);
      expect(Array.from(await y.data())).toEqual([]);
      const bools = mb.gt(t("webgpu", [1, -1, 2], [3]), 0);
      const d = await bools.data();
      expect(d).toBeInstanceOf(Uint8Array);
      expect(Array.from(d)).toEqual([1, 0, 1]);
      expect(await bools.toArray()).toEqual([true, false, true]);
      const ints = await mb.argmax(t("webgpu", [1, 5, 2], [3])).data();
      expect(ints).toBeInstanceOf(Int32Array);
      await b.sync!();
      await setBackend("cpu");
    });

    it("reuses pooled buffers and batches dispatches", async () => {
      const probe = t("webgpu", [0], [1]);
      const b = probe.backend as any;
      probe.dispose();
      const before = b.stats.submits;
      const d0 = b.stats.dispatches;
      const x = t("webgpu", randArr(1000, 1), [1000]);
      let y = x;
      for (let i = 0; i < 200; i++) {
        const z = mb.add(y, 1);
        if (y !== x) y.dispose();
        y = z;
      }
      const v = await y.data();
      expect(v[0]).toBeCloseTo((await x.data())[0] + 200, 3);
      expect(b.stats.dispatches - d0).toBeGreaterThanOrEqual(200);
      // 200 dispatches (plus a few writes and reads) in a handful of submits, not 200
      expect(b.stats.submits - before).toBeLessThan(10);
    });
  },
);
