import { checkOptionKeys } from "../options";
import { fmt } from "../shape";
import type { Tensor } from "../tensor";
import { conv2d } from "./conv";
import { zeros } from "./create";
import { add, cast } from "./elementwise";
import { pad } from "./pad";
import { composite } from "./run";
import { concat, indexSelect, permute, reshape, unsqueeze } from "./shape_ops";

type Pair = number | [number, number];
const pair = (v: Pair): [number, number] => (typeof v === "number" ? [v, v] : [v[0], v[1]]);

export interface ConvTranspose2dOptions {
  stride?: Pair;
  /** Rows/columns removed from each side of the full output (PyTorch's `padding`); default 0. */
  padding?: Pair;
  /** Extra rows/columns on the bottom/right, to pick among output sizes a stride allows; < stride or < dilation. */
  outputPadding?: Pair;
  groups?: number;
  dilation?: Pair;
}

/** Output size of a transposed convolution along one axis (PyTorch's formula). */
export function convTransposeOutSize(
  size: number,
  k: number,
  stride: number,
  pad: number,
  dil: number,
  outPad: number,
): number {
  return (size - 1) * stride - 2 * pad + dil * (k - 1) + outPad + 1;
}

/** Spreads x's last two axes apart by `s`: s - 1 zeros between neighbours (the "fractional stride"). */
function dilateInput(x: Tensor, s: [number, number]): Tensor {
  let y = x;
  for (const axis of [2, 3]) {
    const stride = s[axis - 2];
    if (stride === 1) continue;
    const n = y.shape[axis];
    // [.., n, ..] -> [.., n, stride, ..] with zeros after each element, then drop the trailing zeros.
    const spread = unsqueeze(y, axis + 1);
    const zshape = [...spread.shape];
    zshape[axis + 1] = stride - 1;
    const withZeros = concat([spread, zeros(zshape, { backend: y.backend.name })], axis + 1);
    const merged = [...y.shape];
    merged[axis] = n * stride;
    y = reshape(withZeros, merged);
    const keep = Array.from({ length: (n - 1) * stride + 1 }, (_, i) => i);
    y = indexSelect(y, axis, keep);
  }
  return y;
}

/**
 * 2-d transposed convolution (PyTorch `F.conv_transpose2d`), the gradient of conv2d with respect
 * to its input: x [N, Cin, H, W], w [Cin, Cout/groups, KH, KW], output
 * [N, Cout, (H-1)·stride - 2·padding + dilation·(KH-1) + outputPadding + 1, ...]. Computed as a
 * conv2d of the zero-spread input with the flipped, transposed kernel, so gradients come from conv2d.
 */
export function convTranspose2d(
  x: Tensor,
  w: Tensor,
  bias?: Tensor | null,
  opts: ConvTranspose2dOptions = {},
): Tensor {
  return composite([x, w, bias], () => {
    const op = "convTranspose2d";
    if (bias != null && !Array.isArray((bias as { shape?: unknown }).shape)) {
      throw new Error(
        `${op}: bias must be a Tensor or null, got ${JSON.stringify(bias)}; options go fourth: ${op}(x, w, null, { stride })`,
      );
    }
    checkOptionKeys(op, opts, ["stride", "padding", "outputPadding", "groups", "dilation"]);
    const stride = pair(opts.stride ?? 1);
    const padding = pair(opts.padding ?? 0);
    const outPad = pair(opts.outputPadding ?? 0);
    const dilation = pair(opts.dilation ?? 1);
    const groups = opts.groups ?? 1;
    if (x.rank !== 4) throw new Error(`${op}: expected input of shape [N, C, H, W], got ${fmt(x.shape)}`);
    if (w.rank !== 4)
      throw new Error(`${op}: expected weight of shape [Cin, Cout/groups, KH, KW], got ${fmt(w.shape)}`);
    const [, cin] = x.shape;
    const [wcin, coutG, kh, kw] = w.shape;
    if (!Number.isInteger(groups) || groups < 1 || cin % groups !== 0) {
      throw new Error(
        `${op}: groups=${groups} must be a positive integer dividing the input channels ${cin}`,
      );
    }
    if (wcin !== cin) {
      throw new Error(
        `${op}: weight ${fmt(w.shape)} expects ${wcin} input channels, input ${fmt(x.shape)} has ${cin}`,
      );
    }
    for (const [name, v, min] of [
      ["stride", stride, 1],
      ["dilation", dilation, 1],
      ["padding", padding, 0],
      ["outputPadding", outPad, 0],
    ] as const) {
      if (v.some((e) => !Number.isInteger(e) || e < min)) {
        throw new Error(`${op}: ${name} must be integers >= ${min}, got [${v}]`);
      }
    }
    if (outPad.some((p, i) => p >= stride[i] && p >= dilation[i])) {
      throw new Error(
        `${op}: outputPadding [${outPad}] must be smaller than either stride [${stride}] or dilation [${dilation}]`,
      );
    }
    const k = [kh, kw];
    const outSize = [0, 1].map((i) =>
      convTransposeOutSize(x.shape[2 + i], k[i], stride[i], padding[i], dilation[i], outPad[i]),
    );
    if (outSize.some((s) => s <= 0)) {
      throw new Error(`${op}: the output size [${outSize}] is not positive for input ${fmt(x.shape)}`);
    }
    // Kernel: [Cin, Cout/g, kh, kw] -> per group [Cout/g, Cin/g], flipped in space.
    const cinG = cin / groups;
    const wt = reshape(permute(reshape(w, [groups, cinG, coutG, kh, kw]), [0, 2, 1, 3, 4]), [
      groups * coutG,
      cinG,
      kh,
      kw,
    ]);
    const flip = (n: number) => Array.from({ length: n }, (_, i) => n - 1 - i);
    const wf = indexSelect(indexSelect(wt, 2, flip(kh)), 3, flip(kw));
    // Full padding dilation·(k-1) minus `padding`; negative amounts crop.
    const full = [0, 1].map((i) => dilation[i] * (k[i] - 1) - padding[i]);
    const xp = pad(dilateInput(cast(x, "float32"), stride), [
      full[1],
      full[1] + outPad[1],
      full[0],
      full[0] + outPad[0],
    ]);
    const y = conv2d(xp, wf, null, { dilation, groups });
    if (!bias) return y;
    if (bias.rank !== 1 || bias.shape[0] !== groups * coutG) {
      throw new Error(`${op}: bias must have shape [${groups * coutG}], got ${fmt(bias.shape)}`);
    }
    return add(y, reshape(bias, [1, groups * coutG, 1, 1]));
  });
}
