import * as mb from "@minibatch/tensor";
import { type Tensor, tensor } from "@minibatch/tensor";
import { expect, it } from "vitest";
import { describeConformance, expectClose, tolerance } from "../index";
import {
  argOf,
  broadcast2,
  conv2dRef,
  erfRef,
  fill,
  map,
  matmul2,
  meanOf,
  permuteRef,
  poolRef,
  type Ref,
  reduceAxes,
  ref,
  sumOf,
  varOf,
} from "./reference";

const t = (r: Ref) => tensor(Float32Array.from(r.data), r.shape);

async function check(out: Tensor, expected: Ref, tol: { rtol: number; atol: number }, what: string) {
  expect(out.shape, `${what} shape`).toEqual(expected.shape);
  expectClose(await out.data(), expected.data, tol, what);
}

const X = ref([-2.5, -1, -0.25, 0, 0.5, 1.75, 3, -0.75, 2, 0.1, -3.2, 4], [3, 4]);
const POS = ref([0.1, 0.5, 1, 2, 3.5, 10], [2, 3]);

const UNARY: [string, (x: Tensor) => Tensor, (v: number) => number, Ref][] = [
  ["neg", mb.neg, (v) => -v, X],
  ["abs", mb.abs, Math.abs, X],
  ["sign", mb.sign, Math.sign, X],
  ["exp", mb.exp, Math.exp, X],
  ["log", mb.log, Math.log, POS],
  ["log1p (tiny and large x)", mb.log1p, Math.log1p, ref([1e-7, -1e-6, 3e-4, -0.5, 2, 100], [2, 3])],
  ["expm1 (tiny and large x)", mb.expm1, Math.expm1, ref([1e-7, -1e-6, 3e-4, -0.5, 2, -20], [2, 3])],
  ["sqrt", mb.sqrt, Math.sqrt, POS],
  ["rsqrt", mb.rsqrt, (v) => 1 / Math.sqrt(v), POS],
  ["relu", mb.relu, (v) => Math.max(0, v), X],
  ["sigmoid", mb.sigmoid, (v) => 1 / (1 + Math.exp(-v)), X],
  ["tanh", mb.tanh, Math.tanh, X],
  ["gelu", mb.gelu, (v) => 0.5 * v * (1 + erfRef(v / Math.SQRT2)), X],
  ["square", mb.square, (v) => v * v, X],
  ["clamp(-1, 2)", (x) => mb.clamp(x, -1, 2), (v) => Math.min(2, Math.max(-1, v)), X],
];

const A = ref(fill(6, 3), [2, 3]);
const B = ref(fill(3, 4, 0.5, 2), [3]);
const C = ref(fill(8, 5, 0.5, 2), [2, 1, 4]);
const D = ref(fill(12, 6), [3, 4]);

const BINARY: [string, (a: Tensor, b: Tensor) => Tensor, (x: number, y: number) => number][] = [
  ["add", mb.add, (x, y) => x + y],
  ["sub", mb.sub, (x, y) => x - y],
  ["mul", mb.mul, (x, y) => x * y],
  ["div", mb.div, (x, y) => x / y],
  ["maximum", mb.maximum, Math.max],
  ["minimum", mb.minimum, Math.min],
];
const SHAPES: [string, Ref, Ref][] = [
  ["[2,3] op [3]", A, B],
  ["[2,1,4] op [3,4]", C, D],
  ["[3] op [2,3]", B, A],
];
const COMPARE: [string, (a: Tensor, b: Tensor) => Tensor, (x: number, y: number) => boolean][] = [
  ["eq", mb.eq, (x, y) => x === y],
  ["ne", mb.ne, (x, y) => x !== y],
  ["lt", mb.lt, (x, y) => x < y],
  ["le", mb.le, (x, y) => x <= y],
  ["gt", mb.gt, (x, y) => x > y],
  ["ge", mb.ge, (x, y) => x >= y],
];

describeConformance("conformance: values", (backend) => {
  const tol = tolerance(backend);

  for (const [name, f, g, input] of UNARY) {
    it(`unary ${name}`, async () => check(f(t(input)), map(input, g), tol, name));
  }

  for (const [name, f, g] of BINARY) {
    for (const [sname, a, b] of SHAPES) {
      it(`binary ${name} ${sname}`, async () => check(f(t(a), t(b)), broadcast2(a, b, g), tol, name));
    }
  }
  it("pow with broadcasting and a scalar exponent", async () => {
    const base = ref([0.5, 1, 2, 3, 1.5, 4], [2, 3]);
    const ex = ref([2, 0.5, -1], [3]);
    await check(
      mb.pow(t(base), t(ex)),
      broadcast2(base, ex, (x, y) => x ** y),
      tol,
      "pow",
    );
    await check(
      mb.pow(t(base), 3),
      map(base, (x) => x ** 3),
      tol,
      "pow scalar",
    );
  });
  it("number operands on either side", async () => {
    await check(
      mb.sub(2, t(A)),
      map(A, (x) => 2 - x),
      tol,
      "2 - A",
    );
    await check(
      t(A).div(4),
      map(A, (x) => x / 4),
      tol,
      "A / 4",
    );
  });

  for (const [name, f, g] of COMPARE) {
    it(`compare ${name} (with ties)`, async () => {
      const a = ref([1, 2, 3, 4, 5, 6], [2, 3]);
      const b = ref([2, 2, 1], [3]);
      const out = f(t(a), t(b));
      expect(out.dtype).toBe("bool");
      expect(Array.from(await out.data())).toEqual(broadcast2(a, b, (x, y) => (g(x, y) ? 1 : 0)).data);
    });
  }

  it("where broadcasts condition and both branches", async () => {
    const cond = mb.gt(t(A), 0);
    const out = mb.where(cond, t(A), t(B));
    const exp = broadcast2(A, B, (x, y) => (x > 0 ? x : y));
    await check(out, exp, tol, "where");
    await check(
      mb.where(cond, 1, -1),
      map(A, (x) => (x > 0 ? 1 : -1)),
      tol,
      "where scalars",
    );
  });

  it("cast float -> int32 truncates toward zero; -> bool is x != 0", async () => {
    const x = tensor([-2.7, -0.5, 0, 0.5, 2.7]);
    expect(Array.from(await x.cast("int32").data())).toEqual([-2, 0, 0, 0, 2]);
    expect(Array.from(await x.cast("bool").data())).toEqual([1, 1, 0, 1, 1]);
    expect(await mb.logicalNot(x.cast("bool")).toArray()).toEqual([false, false, true, false, false]);
  });

  const R = ref(fill(24, 9), [2, 3, 4]);
  const AXES: (number[] | undefined)[] = [undefined, [0], [1], [2], [0, 2], [1, 2], [-1]];
  for (const axes of AXES) {
    const label = axes ? `[${axes}]` : "all";
    it(`sum/mean/max/min over ${label}, keepDims both ways`, async () => {
      for (const keep of [false, true]) {
        await check(mb.sum(t(R), axes, keep), reduceAxes(R, axes, sumOf, keep), tol, "sum");
        await check(mb.mean(t(R), axes, keep), reduceAxes(R, axes, meanOf, keep), tol, "mean");
        await check(
          mb.max(t(R), axes, keep),
          reduceAxes(R, axes, (v) => Math.max(...v), keep),
          tol,
          "max",
        );
        await check(
          mb.min(t(R), axes, keep),
          reduceAxes(R, axes, (v) => Math.min(...v), keep),
          tol,
          "min",
        );
      }
    });
    it(`var/std with correction 0 and 1 over ${label}`, async () => {
      for (const correction of [0, 1]) {
        await check(
          mb.variance(t(R), axes, { correction }),
          reduceAxes(R, axes, (v) => varOf(v, correction)),
          tol,
          "var",
        );
        await check(
          mb.std(t(R), axes, { correction }),
          reduceAxes(R, axes, (v) => Math.sqrt(varOf(v, correction))),
          tol,
          "std",
        );
      }
    });
  }
  for (const axis of [0, 1, 2, -1]) {
    it(`argmax/argmin along ${axis} (first index on ties)`, async () => {
      const withTies = ref([...R.data.slice(0, 20), R.data[19], 5, 5, -7], [2, 3, 4]);
      const am = mb.argmax(t(withTies), axis);
      expect(am.dtype).toBe("int32");
      expect(Array.from(await am.data())).toEqual(
        reduceAxes(withTies, [axis], (v) => argOf(v, (x, y) => x > y)).data,
      );
      expect(Array.from(await mb.argmin(t(withTies), axis).data())).toEqual(
        reduceAxes(withTies, [axis], (v) => argOf(v, (x, y) => x < y)).data,
      );
    });
  }
  it("argmax without an axis indexes the flattened tensor", async () => {
    expect(await mb.argmax(t(R)).item()).toBe(argOf(R.data, (x, y) => x > y));
  });

  it("softmax, logSoftmax and logSumExp along each axis, stable for large inputs", async () => {
    const big = ref([1000, 1001, 1002, -1000, 0, 1000], [2, 3]);
    for (const input of [R, big]) {
      const last = input.shape.length - 1;
      for (const axis of [0, last]) {
        const lse = reduceAxes(
          input,
          [axis],
          (v) => {
            const m = Math.max(...v);
            return m + Math.log(sumOf(v.map((x) => Math.exp(x - m))));
          },
          true,
        );
        const lsm = broadcast2(input, lse, (x, l) => x - l);
        await check(mb.logSumExp(t(input), axis, true), lse, tol, "logSumExp");
        await check(mb.logSoftmax(t(input), axis), lsm, tol, "logSoftmax");
        await check(mb.softmax(t(input), axis), map(lsm, Math.exp), tol, "softmax");
      }
    }
  });

  it("matmul 2-d, 1-d operands and broadcast batches", async () => {
    const a = ref(fill(15, 11), [3, 5]);
    const b = ref(fill(20, 12), [5, 4]);
    await check(mb.matmul(t(a), t(b)), matmul2(a, b), tol, "2-d");
    const v = ref(fill(5, 13), [5]);
    const mv = matmul2(a, ref(v.data, [5, 1]));
    await check(mb.matmul(t(a), t(v)), ref(mv.data, [3]), tol, "matrix @ vector");
    const vm = matmul2(ref(v.data, [1, 5]), b);
    await check(mb.matmul(t(v), t(b)), ref(vm.data, [4]), tol, "vector @ matrix");
    // [2, 1, 3, 5] @ [4, 5, 4] -> [2, 4, 3, 4]
    const ba = ref(fill(30, 14), [2, 1, 3, 5]);
    const bb = ref(fill(80, 15), [4, 5, 4]);
    const out: number[] = [];
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 4; j++)
        out.push(
          ...matmul2(
            ref(ba.data.slice(i * 15, i * 15 + 15), [3, 5]),
            ref(bb.data.slice(j * 20, j * 20 + 20), [5, 4]),
          ).data,
        );
    await check(mb.matmul(t(ba), t(bb)), ref(out, [2, 4, 3, 4]), tol, "batched broadcast");
  });

  it("matmul of larger odd sizes", async () => {
    const a = ref(fill(37 * 70, 21), [37, 70]);
    const b = ref(fill(70 * 45, 22), [70, 45]);
    await check(
      mb.matmul(t(a), t(b)),
      matmul2(a, b),
      { rtol: tol.rtol * 10, atol: tol.atol * 10 },
      "37x70 @ 70x45",
    );
  });

  it("permute, transpose, reshape, flatten, squeeze, unsqueeze, expand", async () => {
    await check(mb.permute(t(R), [2, 0, 1]), permuteRef(R, [2, 0, 1]), tol, "permute");
    await check(mb.transpose(t(R), 0, 2), permuteRef(R, [2, 1, 0]), tol, "transpose");
    await check(t(A).T, permuteRef(A, [1, 0]), tol, "T");
    await check(mb.reshape(t(R), [4, -1]), ref(R.data, [4, 6]), tol, "reshape");
    await check(mb.flatten(t(R), 1), ref(R.data, [2, 12]), tol, "flatten");
    await check(mb.unsqueeze(t(A), 1), ref(A.data, [2, 1, 3]), tol, "unsqueeze");
    await check(mb.squeeze(mb.unsqueeze(t(A), 0)), A, tol, "squeeze");
    await check(
      mb.expand(t(B), [2, 3]),
      broadcast2(ref([0, 0, 0, 0, 0, 0], [2, 3]), B, (_, y) => y),
      tol,
      "expand",
    );
  });

  it("slice, narrow, split, concat, stack", async () => {
    const s = mb.slice(t(R), [1, 1, 0], [1, 2, 3]);
    const exp: number[] = [];
    for (let j = 1; j < 3; j++) for (let k = 0; k < 3; k++) exp.push(R.data[12 + j * 4 + k]);
    await check(s, ref(exp, [1, 2, 3]), tol, "slice");
    await check(
      mb.narrow(t(D), 1, 1, 2),
      ref(
        [1, 2, 5, 6, 9, 10].map((i) => D.data[i]),
        [3, 2],
      ),
      tol,
      "narrow",
    );
    const parts = mb.split(t(D), [1, 3], 1);
    await check(
      parts[0],
      ref(
        [0, 4, 8].map((i) => D.data[i]),
        [3, 1],
      ),
      tol,
      "split 0",
    );
    await check(mb.concat(parts, 1), D, tol, "concat back");
    const chunks = mb.split(t(D), 2, 0);
    expect(chunks.map((c) => c.shape)).toEqual([
      [2, 4],
      [1, 4],
    ]);
    await check(mb.concat([t(A), t(A)], 0), ref([...A.data, ...A.data], [4, 3]), tol, "concat axis 0");
    const st = mb.stack([t(B), t(B)], 1);
    await check(
      st,
      ref(
        B.data.flatMap((v) => [v, v]),
        [3, 2],
      ),
      tol,
      "stack axis 1",
    );
  });

  it("indexSelect (negative indices, repeats) and oneHot", async () => {
    const idx = tensor(new Int32Array([2, 0, 2, -1]));
    await check(
      mb.indexSelect(t(D), 0, idx),
      ref(
        [2, 0, 2, 2].flatMap((r) => D.data.slice(r * 4, r * 4 + 4)),
        [4, 4],
      ),
      tol,
      "rows",
    );
    await check(
      mb.indexSelect(t(D), 1, [3, 1]),
      ref(
        [0, 1, 2].flatMap((r) => [D.data[r * 4 + 3], D.data[r * 4 + 1]]),
        [3, 2],
      ),
      tol,
      "cols",
    );
    const oh = mb.oneHot(tensor(new Int32Array([1, 0, 3])), 4);
    expect(await oh.toArray()).toEqual([
      [0, 1, 0, 0],
      [1, 0, 0, 0],
      [0, 0, 0, 1],
    ]);
  });

  it("conv2d with stride, padding, dilation and groups", async () => {
    const x = ref(fill(2 * 4 * 7 * 6, 31), [2, 4, 7, 6]);
    for (const [stride, pad, dil, groups] of [
      [[1, 1], [0, 0], [1, 1], 1],
      [[2, 1], [1, 2], [1, 1], 1],
      [[1, 2], [2, 1], [2, 1], 2],
      [[1, 1], [1, 1], [1, 1], 4],
    ] as [[number, number], [number, number], [number, number], number][]) {
      const o = groups === 4 ? 8 : 6;
      const w = ref(fill(o * (4 / groups) * 3 * 3, 32), [o, 4 / groups, 3, 3]);
      const out = mb.conv2d(t(x), t(w), null, { stride, padding: pad, dilation: dil, groups });
      await check(
        out,
        conv2dRef(x, w, stride, pad, dil, groups),
        tol,
        `conv2d s${stride} p${pad} d${dil} g${groups}`,
      );
    }
  });

  it("maxPool2d and avgPool2d with stride and padding", async () => {
    const x = ref(fill(2 * 3 * 6 * 5, 41), [2, 3, 6, 5]);
    for (const [k, s, p] of [
      [
        [2, 2],
        [2, 2],
        [0, 0],
      ],
      [
        [3, 3],
        [2, 1],
        [1, 1],
      ],
    ] as [[number, number], [number, number], [number, number]][]) {
      await check(
        mb.maxPool2d(t(x), k, { stride: s, padding: p }),
        poolRef(x, k, s, p, "max"),
        tol,
        "maxPool2d",
      );
      await check(
        mb.avgPool2d(t(x), k, { stride: s, padding: p }),
        poolRef(x, k, s, p, "avg"),
        tol,
        "avgPool2d",
      );
    }
  });

  it("fused batchNormTrain over NCHW and [N, C]: output, mean, invstd, unbiased var", async () => {
    for (const shape of [
      [4, 3, 2, 5],
      [6, 4],
    ]) {
      const x = ref(
        fill(
          shape.reduce((a, b) => a * b),
          51,
          -3,
          5,
        ),
        shape,
      );
      const c = shape[1];
      const gamma = ref(fill(c, 52, 0.5, 2), [c]);
      const beta = ref(fill(c, 53), [c]);
      const axes = shape.map((_, i) => i).filter((i) => i !== 1);
      const mean = reduceAxes(x, axes, meanOf);
      const varB = reduceAxes(x, axes, (v) => varOf(v, 0));
      const varU = reduceAxes(x, axes, (v) => varOf(v, 1));
      const bshape = shape.map((d, i) => (i === 1 ? d : 1));
      const xhat = broadcast2(
        broadcast2(x, ref(mean.data, bshape), (a, m) => a - m),
        ref(
          varB.data.map((v) => 1 / Math.sqrt(v + 1e-5)),
          bshape,
        ),
        (a, s) => a * s,
      );
      const y = broadcast2(
        broadcast2(xhat, ref(gamma.data, bshape), (a, g) => a * g),
        ref(beta.data, bshape),
        (a, b) => a + b,
      );
      const r = mb.batchNormTrain(t(x), t(gamma), t(beta), { eps: 1e-5 });
      await check(r.y, y, tol, "y");
      await check(r.mean, mean, tol, "mean");
      await check(
        r.invstd,
        map(varB, (v) => 1 / Math.sqrt(v + 1e-5)),
        tol,
        "invstd",
      );
      await check(r.varUnbiased, varU, tol, "unbiased var");
    }
  });

  it("creation ops", async () => {
    expect(await mb.zeros([2, 2]).toArray()).toEqual([
      [0, 0],
      [0, 0],
    ]);
    expect(await mb.ones([3], { dtype: "int32" }).toArray()).toEqual([1, 1, 1]);
    expect(await mb.full([2], 7.5).toArray()).toEqual([7.5, 7.5]);
    expect(await mb.arange(5).toArray()).toEqual([0, 1, 2, 3, 4]);
    expect(await mb.arange(1, 2, 0.25).toArray()).toEqual([1, 1.25, 1.5, 1.75]);
    expect(await mb.linspace(0, 1, 5).toArray()).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(await mb.eye(2, 3).toArray()).toEqual([
      [1, 0, 0],
      [0, 1, 0],
    ]);
    expect(await tensor([[true, false]]).toArray()).toEqual([[true, false]]);
  });

  it("random tensors: the same seed gives the same values, on every backend", async () => {
    const draw = () => [
      mb.rand([50], { generator: new mb.Generator(7) }),
      mb.randn([50], { generator: new mb.Generator(7) }),
      mb.randint(0, 10, [50], { generator: new mb.Generator(7) }),
    ];
    const [u1, n1, i1] = draw();
    const [u2, n2, i2] = draw();
    expect(Array.from(await u1.data())).toEqual(Array.from(await u2.data()));
    expect(Array.from(await n1.data())).toEqual(Array.from(await n2.data()));
    expect(Array.from(await i1.data())).toEqual(Array.from(await i2.data()));
    const u = Array.from(await u1.data());
    expect(u.every((v) => v >= 0 && v < 1)).toBe(true);
    expect(Array.from(await i1.data()).every((v) => Number.isInteger(v) && v >= 0 && v < 10)).toBe(true);
    // Values are drawn on the host: a fixed seed gives the same first values everywhere.
    mb.manualSeed(123);
    const a = await mb.randn([3]).data();
    mb.manualSeed(123);
    const b = await mb.randn([3]).data();
    expect(Array.from(a)).toEqual(Array.from(b));
  });

  it("large normal sample has mean ~0 and std ~1", async () => {
    const n = mb.randn([20000], { generator: new mb.Generator(1) });
    expect(Math.abs(await mb.mean(n).item())).toBeLessThan(0.03);
    expect(Math.abs((await mb.std(n).item()) - 1)).toBeLessThan(0.03);
  });
});
