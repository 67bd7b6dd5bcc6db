import type { TensorInfo } from "@minibatch/tensor";
import { describe, expect, it } from "vitest";
import { CpuBackend, type CpuData } from "../src/backend";
import { batchNormGradKernel, batchNormTrainKernel } from "../src/kernels/batchnorm";
import { conv2dGradFilterKernel, conv2dGradInputKernel, conv2dKernel } from "../src/kernels/conv";
import {
  convPlan,
  fastConv2dGradFilterKernel,
  fastConv2dGradInputKernel,
  fastConv2dKernel,
} from "../src/kernels/conv-fast";
import {
  fastBatchNormGradKernel,
  fastBatchNormTrainKernel,
  fastBinaryF32,
  fastMatmulKernel,
} from "../src/kernels/fast";
import { matmulKernel } from "../src/kernels/matmul";
import { wasmRuntime, wasmStatus } from "../src/wasm/runtime";
import { rng } from "./rng";

const backend = new CpuBackend();

/**
 * A float32 buffer; `resident: false` makes an ordinary array (as for small tensors, or ones made
 * before the wasm module loaded), which the fast kernels copy in and out instead of using in place.
 */
function info(shape: number[], fill?: () => number, resident = true): TensorInfo {
  const size = shape.reduce((a, b) => a * b, 1);
  const dataId: CpuData = resident
    ? backend.alloc(size, "float32")
    : { values: new Float32Array(size), dtype: "float32", size, ptr: -1 };
  if (fill) for (let i = 0; i < size; i++) dataId.values[i] = fill();
  else dataId.values.fill(0);
  return { dataId, shape, dtype: "float32", size };
}

const vals = (t: TensorInfo) => (t.dataId as { values: Float32Array }).values;

function expectClose(got: Float32Array, want: Float32Array, rtol: number, atol: number): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < got.length; i++) {
    const err = Math.abs(got[i] - want[i]) - (atol + rtol * Math.abs(want[i]));
    if (!(err <= worst)) {
      worst = Number.isNaN(err) ? Number.POSITIVE_INFINITY : err;
      at = i;
    }
  }
  if (at >= 0) expect(`index ${at}: ${got[at]}`).toBe(`index ${at}: ${want[at]}`);
}

describe("wasm runtime", () => {
  it("loads with SIMD on Node.js 20", () => {
    expect(wasmStatus()).toMatchObject({ enabled: true, reason: "" });
  });

  it("the committed module matches a fresh compile of asm/", async () => {
    // @ts-expect-error: a plain .mjs script without types
    const { render, TARGET } = await import("../scripts/build-wasm.mjs");
    const { readFileSync } = await import("node:fs");
    expect(readFileSync(TARGET, "utf8")).toBe(await render());
  }, 60_000);
});

describe("fast matmul matches the TypeScript kernel", () => {
  const r = rng(1);
  const cases: [number, number, number, number, number, number][] = [
    // [batch, batchA, batchB, m, n, k]
    [1, 1, 1, 1, 1, 1],
    [1, 1, 1, 64, 64, 64],
    [1, 1, 1, 60, 100, 784],
    [1, 1, 1, 13, 17, 19],
    [1, 1, 1, 5, 3, 1300],
    [1, 1, 1, 67, 1030, 257],
    [1, 1, 1, 173, 24, 40], // several MC row blocks, m not a multiple of the 5-row tile
    [3, 3, 3, 7, 9, 11],
    [4, 1, 4, 6, 10, 5],
    [4, 4, 1, 33, 8, 3],
    [2, 2, 2, 0 + 9, 4, 0],
  ];
  for (const [batch, batchA, batchB, m, n, k] of cases) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        // Operands in wasm memory (used in place) and ordinary arrays (copied), mixed.
        const resident = !transA || transB;
        it(`batch ${batch} (${batchA}, ${batchB}) ${m}x${k} @ ${k}x${n} transA=${transA} transB=${transB}`, () => {
          const a = info(transA ? [batchA, k, m] : [batchA, m, k], () => r() * 2 - 1, resident);
          const b = info(transB ? [batchB, n, k] : [batchB, k, n], () => r() * 2 - 1, !transB);
          const want = info([batch, m, n]);
          const got = info([batch, m, n], () => Number.NaN, transA); // every value must be written
          const at = { batch, m, n, k, transA, transB, batchA, batchB };
          matmulKernel(backend, [a, b], [want], at);
          fastMatmulKernel(backend, [a, b], [got], at);
          expectClose(vals(got), vals(want), 1e-5, 1e-5 * Math.sqrt(k));
        });
      }
    }
  }

  it("keeps resident views valid when wasm memory grows", () => {
    const w = wasmRuntime();
    expect(w).not.toBeNull();
    const n = 300;
    const a = info([1, n, n], () => r());
    const b = info([1, n, n], () => r());
    const before = w?.exports.memory.buffer.byteLength ?? 0;
    const copyA = vals(a).slice();
    // Enough to force growth: every resident view (a's and b's included) is rebound.
    const big = backend.alloc(before / 4 + 1024, "float32");
    expect(w?.exports.memory.buffer.byteLength).toBeGreaterThan(before);
    expect(vals(a).buffer).toBe(w?.exports.memory.buffer);
    expect(vals(a)).toEqual(copyA);
    const got = info([1, n, n]);
    const at = { batch: 1, m: n, n, k: n, transA: false, transB: false, batchA: 1, batchB: 1 };
    fastMatmulKernel(backend, [a, b], [got], at);
    const want = info([1, n, n]);
    matmulKernel(backend, [a, b], [want], at);
    expectClose(vals(got), vals(want), 1e-5, 1e-4);
    for (const d of [big, a.dataId, b.dataId, got.dataId, want.dataId]) backend.free(d);
  });
});

describe("fast batch norm matches the TypeScript kernels", () => {
  const r = rng(2);
  const shapes: [number, number, number][] = [
    // [outer, C, inner]
    [256, 1024, 1],
    [60, 100, 1],
    [7, 13, 1],
    [2, 3, 1],
    [32, 64, 64],
    [3, 5, 7],
    [4, 3, 2],
    [1, 6, 9],
    [5, 1, 17],
  ];
  for (const [outer, channels, inner] of shapes) {
    for (const offset of [0, 100]) {
      it(`[${outer}, ${channels}, ${inner}] mean offset ${offset}`, () => {
        const at = { outer, channels, inner, eps: 1e-5 };
        // With offset 100 the big operands are ordinary arrays, copied in and out.
        const resident = offset === 0;
        const x = info([outer, channels, inner], () => offset + r() * 4 - 2, resident);
        const g = info([channels], () => r() + 0.5);
        const b = info([channels], () => r() - 0.5);
        const want = [info([outer, channels, inner]), info([channels]), info([channels]), info([channels])];
        const got = want.map((t) => info([...t.shape], () => Number.NaN, resident));
        batchNormTrainKernel(backend, [x, g, b], want, at);
        fastBatchNormTrainKernel(backend, [x, g, b], got, at);
        for (let i = 0; i < 4; i++) expectClose(vals(got[i]), vals(want[i]), 1e-4, 1e-4);

        const dy = info([outer, channels, inner], () => r() * 2 - 1, resident);
        const gin = [dy, x, g, want[1], want[2]];
        const gw = [info([outer, channels, inner]), info([channels]), info([channels])];
        const gg = gw.map((t) => info([...t.shape], () => Number.NaN, !resident));
        batchNormGradKernel(backend, gin, gw, at);
        fastBatchNormGradKernel(backend, gin, gg, at);
        const n = outer * inner;
        expectClose(vals(gg[0]), vals(gw[0]), 1e-3, 1e-4);
        for (let i = 1; i < 3; i++) expectClose(vals(gg[i]), vals(gw[i]), 1e-4, 1e-5 * n);
      });
    }
  }
});

describe("fast float32 arithmetic equals the JavaScript loop bit for bit", () => {
  const r = rng(3);
  const ref: Record<string, (p: number, q: number) => number> = {
    add: (p, q) => p + q,
    sub: (p, q) => p - q,
    mul: (p, q) => p * q,
    div: (p, q) => p / q,
  };
  for (const op of Object.keys(ref)) {
    for (const [na, nb] of [
      [78403, 78403],
      [5001, 1],
      [1, 4099],
    ]) {
      for (const resident of [true, false]) {
        it(`${op} [${na}] with [${nb}]${resident ? "" : ", ordinary arrays"}`, () => {
          const n = Math.max(na, nb);
          const a = info([na], () => r() * 4 - 2, resident);
          const b = info([nb], () => r() * 4 - 2, resident && nb > 1);
          const want = new Float32Array(n);
          const av = vals(a);
          const bv = vals(b);
          for (let i = 0; i < n; i++) want[i] = ref[op](av[na === 1 ? 0 : i], bv[nb === 1 ? 0 : i]);
          const got = info([n], () => Number.NaN, !resident);
          expect(fastBinaryF32(op, a, b, got)).toBe(true);
          expect(vals(got)).toEqual(want);
        });
      }
    }
  }
  it("declines small, broadcast and other ops", () => {
    const y = info([8192]);
    expect(fastBinaryF32("add", info([10]), info([10]), info([10]))).toBe(false);
    expect(fastBinaryF32("add", info([8192]), info([64]), y)).toBe(false);
    expect(fastBinaryF32("pow", info([8192]), info([8192]), y)).toBe(false);
  });
});

describe("fast convolution (im2col + wasm gemm) matches the direct TypeScript kernels", () => {
  const r = rng(4);
  // [N, C, H, W], [O, KH, KW], stride, padding, dilation
  const cases: [number[], number[], [number, number], [number, number], [number, number]][] = [
    [
      [4, 1, 28, 28],
      [8, 5, 5],
      [1, 1],
      [0, 0],
      [1, 1],
    ], // the demo CNN's first layer
    [
      [3, 8, 12, 12],
      [16, 5, 5],
      [1, 1],
      [2, 2],
      [1, 1],
    ],
    [
      [6, 3, 17, 13],
      [12, 3, 4],
      [2, 3],
      [1, 2],
      [1, 1],
    ], // odd sizes, unequal strides and padding
    [
      [2, 4, 15, 15],
      [6, 3, 3],
      [1, 1],
      [2, 2],
      [2, 2],
    ], // dilation
    [
      [5, 2, 9, 9],
      [7, 9, 9],
      [1, 1],
      [4, 4],
      [1, 1],
    ], // kernel as large as the input
    [
      [8, 16, 20, 22],
      [8, 1, 1],
      [2, 2],
      [0, 0],
      [1, 1],
    ], // 1x1, strided
    [
      [4, 8, 6, 6],
      [8, 3, 3],
      [1, 1],
      [5, 5],
      [1, 1],
    ], // padding wider than the kernel reach
  ];
  for (const [[n, c, h, w], [o, kh, kw], stride, padding, dilation] of cases) {
    const oh = Math.floor((h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) / stride[0]) + 1;
    const ow = Math.floor((w + 2 * padding[1] - dilation[1] * (kw - 1) - 1) / stride[1]) + 1;
    for (const resident of [true, false]) {
      it(`x [${n},${c},${h},${w}] w [${o},${c},${kh},${kw}] stride ${stride} padding ${padding} dilation ${dilation}${resident ? "" : ", ordinary arrays"}`, () => {
        const at = { stride, padding, dilation, groups: 1 };
        expect(convPlan([n, c, h, w], [o, c, kh, kw], [n, o, oh, ow], at)).not.toBeNull(); // the fast path runs
        const x = info([n, c, h, w], () => r() * 2 - 1, resident);
        const wt = info([o, c, kh, kw], () => r() * 2 - 1, resident);
        const want = info([n, o, oh, ow]);
        const got = info([n, o, oh, ow], () => Number.NaN, resident);
        conv2dKernel(backend, [x, wt], [want], at);
        fastConv2dKernel(backend, [x, wt], [got], at);
        const tol = 1e-5 * Math.sqrt(c * kh * kw);
        expectClose(vals(got), vals(want), 1e-5, tol);

        const dy = info([n, o, oh, ow], () => r() * 2 - 1, resident);
        const dxWant = info([n, c, h, w]);
        const dxGot = info([n, c, h, w], () => Number.NaN, !resident);
        conv2dGradInputKernel(backend, [dy, wt], [dxWant], at);
        fastConv2dGradInputKernel(backend, [dy, wt], [dxGot], at);
        expectClose(vals(dxGot), vals(dxWant), 1e-5, 1e-5 * Math.sqrt(o * kh * kw));

        const dwWant = info([o, c, kh, kw]);
        const dwGot = info([o, c, kh, kw], () => Number.NaN, resident);
        conv2dGradFilterKernel(backend, [x, dy], [dwWant], at);
        fastConv2dGradFilterKernel(backend, [x, dy], [dwGot], at);
        expectClose(vals(dwGot), vals(dwWant), 1e-5, 1e-5 * Math.sqrt(n * oh * ow));
      });
    }
  }
});

it("grouped and tiny convolutions take the direct kernels", () => {
  const at = {
    stride: [1, 1] as [number, number],
    padding: [0, 0] as [number, number],
    dilation: [1, 1] as [number, number],
  };
  expect(convPlan([8, 16, 20, 20], [16, 8, 3, 3], [8, 16, 18, 18], { ...at, groups: 2 })).toBeNull();
  expect(convPlan([1, 1, 4, 4], [1, 1, 3, 3], [1, 1, 2, 2], { ...at, groups: 1 })).toBeNull();
});
