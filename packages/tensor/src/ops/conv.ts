import type { Conv2dAttrs, Pool2dAttrs } from "../backend";
import { checkOptionKeys } from "../options";
import { checkInts, fmt } from "../shape";
import type { Tensor } from "../tensor";
import { add, cast } from "./elementwise";
import { composite, run1 } from "./run";
import { reshape } from "./shape_ops";

type Pair = number | [number, number];
const pair = (v: Pair): [number, number] => (typeof v === "number" ? [v, v] : [v[0], v[1]]);

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
}

export function convOutSize(size: number, k: number, stride: number, pad: number, dil: number): number {
  return Math.floor((size + 2 * pad - dil * (k - 1) - 1) / stride) + 1;
}

/** 2-d convolution (cross-correlation, as PyTorch) of x [N, C, H, W] with w [O, C/groups, KH, KW]. */
export function conv2d(x: Tensor, w: Tensor, bias?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  return composite([x, w, bias], () => {
    if (bias != null && !Array.isArray((bias as { shape?: unknown }).shape)) {
      // The PyTorch order is (input, weight, bias, ...): options passed third land here.
      throw new Error(
        `conv2d: bias must be a Tensor or null, got ${JSON.stringify(bias)}; options go fourth: conv2d(x, w, null, { stride })`,
      );
    }
    checkOptionKeys("conv2d", opts, ["stride", "padding", "dilation", "groups"]);
    const attrs: Conv2dAttrs = {
      stride: pair(opts.stride ?? 1),
      padding: pair(opts.padding ?? 0),
      dilation: pair(opts.dilation ?? 1),
      groups: opts.groups ?? 1,
    };
    if (x.rank !== 4) throw new Error(`conv2d: expected input of shape [N, C, H, W], got ${fmt(x.shape)}`);
    if (w.rank !== 4)
      throw new Error(`conv2d: expected weight of shape [O, C/groups, KH, KW], got ${fmt(w.shape)}`);
    const [n, c, h, wd] = x.shape;
    const [o, cg, kh, kw] = w.shape;
    const g = attrs.groups;
    if (!Number.isInteger(g) || g < 1 || c % g !== 0 || o % g !== 0) {
      throw new Error(`conv2d: groups=${g} must divide both input channels ${c} and output channels ${o}`);
    }
    if (cg !== c / g) {
      throw new Error(
        `conv2d: weight ${fmt(w.shape)} expects ${cg * g} input channels with groups=${g}, input ${fmt(x.shape)} has ${c}`,
      );
    }
    checkInts("conv2d", "stride", attrs.stride, 1);
    checkInts("conv2d", "dilation", attrs.dilation, 1);
    checkInts("conv2d", "padding", attrs.padding, 0);
    if (kh < 1 || kw < 1)
      throw new Error(`conv2d: the kernel must be at least 1x1, got weight ${fmt(w.shape)}`);
    const oh = convOutSize(h, kh, attrs.stride[0], attrs.padding[0], attrs.dilation[0]);
    const ow = convOutSize(wd, kw, attrs.stride[1], attrs.padding[1], attrs.dilation[1]);
    if (oh <= 0 || ow <= 0) {
      throw new Error(
        `conv2d: kernel ${kh}x${kw} (dilation [${attrs.dilation}]) is larger than the padded input ${fmt(x.shape)}`,
      );
    }
    const y = run1("conv2d", [cast(x, "float32"), cast(w, "float32")], [n, o, oh, ow], "float32", attrs);
    if (!bias) return y;
    if (bias.rank !== 1 || bias.shape[0] !== o)
      throw new Error(`conv2d: bias must have shape [${o}], got ${fmt(bias.shape)}`);
    return add(y, reshape(bias, [1, o, 1, 1]));
  });
}

export interface Pool2dOptions {
  stride?: Pair;
  padding?: Pair;
}

function pool(op: "maxPool2d" | "avgPool2d", x: Tensor, kernel: Pair, opts: Pool2dOptions): Tensor {
  return composite([x], () => {
    checkOptionKeys(op, opts, ["stride", "padding"]);
    if (x.rank !== 4) throw new Error(`${op}: expected input of shape [N, C, H, W], got ${fmt(x.shape)}`);
    const attrs: Pool2dAttrs = {
      kernel: pair(kernel),
      stride: pair(opts.stride ?? kernel),
      padding: pair(opts.padding ?? 0),
    };
    checkInts(op, "kernel size", attrs.kernel, 1);
    checkInts(op, "stride", attrs.stride, 1);
    checkInts(op, "padding", attrs.padding, 0);
    if (attrs.padding[0] * 2 > attrs.kernel[0] || attrs.padding[1] * 2 > attrs.kernel[1]) {
      throw new Error(`${op}: padding [${attrs.padding}] must be at most half the kernel [${attrs.kernel}]`);
    }
    const [n, c, h, w] = x.shape;
    const oh = convOutSize(h, attrs.kernel[0], attrs.stride[0], attrs.padding[0], 1);
    const ow = convOutSize(w, attrs.kernel[1], attrs.stride[1], attrs.padding[1], 1);
    if (oh <= 0 || ow <= 0)
      throw new Error(`${op}: kernel [${attrs.kernel}] is larger than the input ${fmt(x.shape)}`);
    return run1(op, [cast(x, "float32")], [n, c, oh, ow], "float32", attrs);
  });
}

/** Max pooling; the stride defaults to the kernel size (PyTorch). */
export const maxPool2d = (x: Tensor, kernel: Pair, opts: Pool2dOptions = {}) =>
  pool("maxPool2d", x, kernel, opts);
/** Average pooling; padded zeros count in the average (PyTorch's count_include_pad=true). */
export const avgPool2d = (x: Tensor, kernel: Pair, opts: Pool2dOptions = {}) =>
  pool("avgPool2d", x, kernel, opts);
