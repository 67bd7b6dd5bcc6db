import type { Pool2dAttrs } from "../backend";
import { div, mul } from "../ops/elementwise";
import { argmax } from "../ops/reduce";
import { expand, oneHot, reshape, unsqueeze } from "../ops/shape_ops";
import type { Tensor } from "../tensor";
import { col2im, im2col, windows } from "./im2col";

// Pooling gradients composed from primitives: the defaults for backends without fused kernels.

/** The gradient goes to the window's maximum (the first one on ties, as the kernels and PyTorch). */
export function maxPool2dGradDefault([x, dy]: readonly Tensor[], at: Pool2dAttrs): Tensor {
  const [n, c, h, w] = x.shape;
  const [oh, ow] = [dy.shape[2], dy.shape[3]];
  const win = windows(h, w, at.kernel, at, oh, ow, x.backend.name);
  const cols = im2col(x, win, at.padding[0], at.padding[1], Number.NEGATIVE_INFINITY); // [N, C, P, K]
  const pick = oneHot(argmax(cols, 3), win.taps); // [N, C, P, K]
  const contrib = mul(pick, unsqueeze(reshape(dy, [n, c, oh * ow]), 3));
  return col2im(reshape(contrib, [n, c, oh * ow * win.taps]), win, at, h, w);
}

/** Each input of a window gets dy / (KH * KW), padding included in the count (as the kernels). */
export function avgPool2dGradDefault(
  [dy]: readonly Tensor[],
  at: Pool2dAttrs,
  xShape: readonly number[],
): Tensor {
  const [n, c, h, w] = xShape;
  const [oh, ow] = [dy.shape[2], dy.shape[3]];
  const win = windows(h, w, at.kernel, at, oh, ow, dy.backend.name);
  const share = div(unsqueeze(reshape(dy, [n, c, oh * ow]), 3), win.taps);
  const contrib = expand(share, [n, c, oh * ow, win.taps]);
  return col2im(reshape(contrib, [n, c, oh * ow * win.taps]), win, at, h, w);
}
