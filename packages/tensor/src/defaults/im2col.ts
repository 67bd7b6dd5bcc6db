import type { Conv2dAttrs } from "../backend";
import { fromArray, full } from "../ops/create";
import { concat, indexSelect, reshape, scatterAdd, slice } from "../ops/shape_ops";
import type { Tensor } from "../tensor";

/**
 * Window geometry shared by the composed convolution and pooling defaults: the input padded to
 * [N, C, Hp, Wp], and for every output position p (OH * OW) and kernel tap k (KH * KW) the flat
 * index into a padded plane. Gathering by it is im2col; scatter-adding by it is col2im.
 */
export interface Windows {
  hp: number;
  wp: number;
  oh: number;
  ow: number;
  taps: number;
  /** int32 [OH * OW * KH * KW], position-major. */
  index: Tensor;
}

export function windows(
  h: number,
  w: number,
  kernel: readonly [number, number],
  at: {
    stride: readonly [number, number];
    padding: readonly [number, number];
    dilation?: readonly [number, number];
  },
  oh: number,
  ow: number,
  backend: string,
): Windows {
  const [kh, kw] = kernel;
  const [sh, sw] = at.stride;
  const [ph, pw] = at.padding;
  const [dh, dw] = at.dilation ?? [1, 1];
  const hp = h + 2 * ph;
  const wp = w + 2 * pw;
  const idx = new Int32Array(oh * ow * kh * kw);
  let k = 0;
  for (let r = 0; r < oh; r++) {
    for (let q = 0; q < ow; q++) {
      for (let i = 0; i < kh; i++) {
        for (let j = 0; j < kw; j++) idx[k++] = (r * sh + i * dh) * wp + (q * sw + j * dw);
      }
    }
  }
  return { hp, wp, oh, ow, taps: kh * kw, index: fromArray(idx, [idx.length], "int32", { backend }) };
}

/** x [N, C, H, W] padded by `value` on each side to [N, C, H + 2ph, W + 2pw]. */
export function pad2d(x: Tensor, ph: number, pw: number, value: number): Tensor {
  const [n, c, h, w] = x.shape;
  const backend = x.backend.name;
  let out = x;
  if (pw > 0) {
    const side = full([n, c, h, pw], value, { backend });
    out = concat([side, out, side], 3);
  }
  if (ph > 0) {
    const side = full([n, c, ph, w + 2 * pw], value, { backend });
    out = concat([side, out, side], 2);
  }
  return out;
}

/** im2col: [N, C, H, W] -> [N, C, OH * OW, KH * KW], padding with `value`. */
export function im2col(x: Tensor, win: Windows, ph: number, pw: number, value = 0): Tensor {
  const [n, c] = x.shape;
  const flat = reshape(pad2d(x, ph, pw, value), [n, c, win.hp * win.wp]);
  return reshape(indexSelect(flat, 2, win.index), [n, c, win.oh * win.ow, win.taps]);
}

/** col2im: [N, C, OH * OW * KH * KW] summed back into [N, C, H, W] (the padding cut off). */
export function col2im(
  cols: Tensor,
  win: Windows,
  at: Pick<Conv2dAttrs, "padding">,
  h: number,
  w: number,
): Tensor {
  const [n, c] = cols.shape;
  const [ph, pw] = at.padding;
  const planes = reshape(scatterAdd(cols, 2, win.index, win.hp * win.wp), [n, c, win.hp, win.wp]);
  return slice(planes, [0, 0, ph, pw], [n, c, h, w]);
}
