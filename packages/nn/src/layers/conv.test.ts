import { conv2d, Generator, tensor, tidy } from "@minibatch/tensor";
import { describeBackends, expectClose, gradCheck, tolerance } from "@minibatch/testing";
import { expect, it } from "vitest";
import { type ConvSpec, conv2d as conv2dRef, f32, stats, values } from "../../test/reference";
import { Conv2d } from "./conv";
import { AvgPool2d, MaxPool2d } from "./pooling";

describeBackends("Conv2d", (backend) => {
  const tol = tolerance(backend);
  const cases: [string, Partial<ConvSpec>][] = [
    ["plain", {}],
    ["stride 2, padding 1", { stride: [2, 2], padding: [1, 1] }],
    ["dilation 2, padding [2, 1]", { dilation: [2, 2], padding: [2, 1] }],
    ["groups 2", { groups: 2, o: 4 }],
  ];
  for (const [name, over] of cases) {
    it(`matches a direct float64 convolution (${name})`, async () => {
      const s: ConvSpec = {
        n: 2,
        c: 2,
        h: 5,
        w: 6,
        o: 3,
        kh: 3,
        kw: 2,
        stride: [1, 1],
        padding: [0, 0],
        dilation: [1, 1],
        groups: 1,
        ...over,
      };
      const conv = new Conv2d(s.c, s.o, [s.kh, s.kw], {
        stride: s.stride,
        padding: s.padding,
        dilation: s.dilation,
        groups: s.groups,
        generator: new Generator(11),
      });
      expect(conv.weight.shape).toEqual([s.o, s.c / s.groups, s.kh, s.kw]);
      const xv = f32(values(s.n * s.c * s.h * s.w, 21));
      const {
        y: ref,
        oh,
        ow,
      } = conv2dRef(xv, Array.from(await conv.weight.data()), Array.from(await conv.bias!.data()), s);
      await tidy(async () => {
        const y = conv.call(tensor(xv, [s.n, s.c, s.h, s.w]));
        expect(y.shape).toEqual([s.n, s.o, oh, ow]);
        expectClose(await y.data(), ref, tol);
      });
      conv.dispose();
    });
  }

  it("the conv op under the layer: gradients of input, weight and bias pass a finite-difference check", async () => {
    const opts = { stride: [2, 1] as [number, number], padding: [1, 1] as [number, number] };
    await gradCheck(
      (x, w, b) => conv2d(x, w, b, opts),
      [
        { values: values(1 * 2 * 4 * 4, 5), shape: [1, 2, 4, 4] },
        { values: values(2 * 2 * 3 * 3, 6), shape: [2, 2, 3, 3] },
        { values: values(2, 7), shape: [2] },
      ],
    );
  });

  it("default init is U(-1/sqrt(fanIn), 1/sqrt(fanIn)) with fanIn = in/groups * kh * kw", async () => {
    const conv = new Conv2d(8, 16, 3, { groups: 2, generator: new Generator(4) });
    const bound = 1 / Math.sqrt(4 * 9);
    const w = stats(await conv.weight.data());
    expect(w.min).toBeGreaterThanOrEqual(-bound);
    expect(w.max).toBeLessThanOrEqual(bound);
    expect(w.std).toBeCloseTo(bound / Math.sqrt(3), 2);
    const b = stats(await conv.bias!.data());
    expect(b.max).toBeLessThanOrEqual(bound);
    conv.dispose();
  });

  it("supports padding 'same' and 'valid', and explains bad configurations", () => {
    const same = new Conv2d(1, 1, 3, { padding: "same", bias: false });
    expect(same.forward(tensor(values(25), [1, 1, 5, 5])).shape).toEqual([1, 1, 5, 5]);
    expect(same.bias).toBeNull();
    expect(new Conv2d(1, 1, 3, { padding: "valid" }).padding).toEqual([0, 0]);
    // An even kernel pads one more at the bottom/right, as PyTorch does.
    const even = new Conv2d(1, 1, 2, { padding: "same" });
    expect(even.paddingAmounts).toEqual([
      [0, 1],
      [0, 1],
    ]);
    expect(even.forward(tensor(values(25), [1, 1, 5, 5])).shape).toEqual([1, 1, 5, 5]);
    expect(() => new Conv2d(1, 1, 3, { padding: "same", stride: 2 })).toThrow(/strided/);
    expect(() => new Conv2d(1, 1, 3, { paddingMode: "mirror" as any })).toThrow(
      /paddingMode must be one of 'zeros', 'reflect', 'replicate', 'circular', got 'mirror'/,
    );
    expect(() => new Conv2d(1, 1, 3, { padding_mode: "reflect" } as any)).toThrow(
      /did you mean 'paddingMode'/,
    );
    expect(() => new Conv2d(3, 4, 3, { groups: 2 })).toThrow(/groups=2 must divide/);
    expect(() => same.forward(tensor(values(8), [1, 2, 2, 2]))).toThrow(
      /expected input of shape \[N, 1, H, W\]/,
    );
    same.dispose();
  });
});

describeBackends("MaxPool2d / AvgPool2d", (backend) => {
  const tol = tolerance(backend);
  // A 1x1x4x4 input with distinct values, so the max is unique in every window.
  const xv = [1, 5, 2, 0, 3, 4, 8, 7, 6, 9, 11, 10, 15, 13, 12, 14];

  it("max pooling picks the window maximum and routes the gradient to it", async () => {
    const x = tensor(xv, [1, 1, 4, 4], { requiresGrad: true });
    await tidy(async () => {
      const y = new MaxPool2d(2).call(x);
      expect(y.shape).toEqual([1, 1, 2, 2]);
      expectClose(await y.data(), [5, 8, 15, 14], tol);
      y.backward(tensor([1, 2, 3, 4], [1, 1, 2, 2]));
      const g = [0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 3, 0, 0, 4];
      expectClose(await x.grad!.data(), g, tol);
    });
    x.grad?.dispose();
    x.dispose();
  });

  it("max pooling with stride 1 and padding 1", async () => {
    const y = new MaxPool2d(3, { stride: 1, padding: 1 }).forward(tensor(xv, [1, 1, 4, 4]));
    const ref: number[] = [];
    for (let r = 0; r < 4; r++)
      for (let c = 0; c < 4; c++) {
        let m = Number.NEGATIVE_INFINITY;
        for (let i = r - 1; i <= r + 1; i++)
          for (let j = c - 1; j <= c + 1; j++)
            if (i >= 0 && j >= 0 && i < 4 && j < 4) m = Math.max(m, xv[i * 4 + j]);
        ref.push(m);
      }
    expectClose(await y.data(), ref, tol);
  });

  it("average pooling averages windows (padded zeros count) and spreads the gradient evenly", async () => {
    const x = tensor(xv, [1, 1, 4, 4], { requiresGrad: true });
    await tidy(async () => {
      const y = new AvgPool2d(2).call(x);
      expectClose(
        await y.data(),
        [(1 + 5 + 3 + 4) / 4, (2 + 0 + 8 + 7) / 4, (6 + 9 + 15 + 13) / 4, (11 + 10 + 12 + 14) / 4],
        tol,
      );
      y.sum().backward();
      expectClose(await x.grad!.data(), new Array(16).fill(0.25), tol);
      const padded = new AvgPool2d(2, { padding: 1 }).call(tensor(xv, [1, 1, 4, 4]));
      expect(padded.shape).toEqual([1, 1, 3, 3]);
      // Top-left window holds only x[0,0] and three padded zeros: 1 / 4.
      expect((await padded.data())[0]).toBeCloseTo(0.25, 6);
    });
    x.grad?.dispose();
    x.dispose();
  });

  it("gradient check through both pools", async () => {
    await gradCheck(
      (x) => new AvgPool2d(2, { stride: 1 }).forward(new MaxPool2d(2, { stride: 1 }).forward(x)),
      [{ values: xv.map((v) => v / 4), shape: [1, 1, 4, 4] }],
    );
  });
});

describeBackends("Conv2d gradients through the layer", (backend) => {
  it("weight and bias gradients equal float64 finite differences of the reference convolution", async () => {
    const s: ConvSpec = {
      n: 1,
      c: 2,
      h: 4,
      w: 4,
      o: 2,
      kh: 2,
      kw: 2,
      stride: [1, 1],
      padding: [1, 0],
      dilation: [1, 1],
      groups: 1,
    };
    const conv = new Conv2d(2, 2, 2, { padding: [1, 0], generator: new Generator(5) });
    const W = Array.from(await conv.weight.data());
    const B = Array.from(await conv.bias!.data());
    const xv = f32(values(32, 8));
    const { oh, ow } = conv2dRef(xv, W, B, s);
    const gv = f32(values(s.n * s.o * oh * ow, 13));
    // L = sum(g * conv(x)) is linear in W and b, so central differences are exact up to rounding.
    const L = (w: number[], b: number[]) =>
      conv2dRef(xv, w, b, s).y.reduce((acc, v, k) => acc + v * gv[k], 0);
    const num = W.map((_, k) => {
      const p = [...W];
      const m = [...W];
      p[k] += 1e-3;
      m[k] -= 1e-3;
      return (L(p, B) - L(m, B)) / 2e-3;
    });
    const numB = B.map((_, k) => {
      const p = [...B];
      const m = [...B];
      p[k] += 1e-3;
      m[k] -= 1e-3;
      return (L(W, p) - L(W, m)) / 2e-3;
    });
    tidy(() => conv.call(tensor(xv, [1, 2, 4, 4])).backward(tensor(gv, [1, 2, oh, ow])));
    const tol = { rtol: 1e-4, atol: 1e-4 * (backend === "cpu" ? 1 : 10) };
    expectClose(await conv.weight.grad!.data(), num, tol, "dW");
    expectClose(await conv.bias!.grad!.data(), numB, tol, "db");
    conv.dispose();
  });
});
