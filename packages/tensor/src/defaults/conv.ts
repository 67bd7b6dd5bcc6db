import type { Conv2dAttrs } from "../backend";
import { matmul } from "../ops/linalg";
import { sum } from "../ops/reduce";
import { permute, reshape } from "../ops/shape_ops";
import type { Tensor } from "../tensor";
import { col2im, im2col, windows } from "./im2col";

// Convolution gradients composed from primitives (gather, scatterAdd, matmul): the defaults for
// backends without fused conv2dGradInput / conv2dGradFilter kernels. Channels split into G groups:
// x [N, G*Cg, H, W], w [G*Og, Cg, KH, KW], dy [N, G*Og, OH, OW].

function geometry(
  xShape: readonly number[],
  wShape: readonly number[],
  dyShape: readonly number[],
  at: Conv2dAttrs,
) {
  const [n, c, h, w] = xShape;
  const [o, cg, kh, kw] = wShape;
  const g = at.groups;
  return { n, c, h, w, o, cg, og: o / g, g, kh, kw, oh: dyShape[2], ow: dyShape[3] };
}

/** dy [N, O, OH, OW] as [N, G, OH*OW, Og]. */
function dyRows(dy: Tensor, d: ReturnType<typeof geometry>): Tensor {
  return permute(reshape(dy, [d.n, d.g, d.og, d.oh * d.ow]), [0, 1, 3, 2]);
}

/** dx = col2im(dy @ w): [dy, w] -> [dx]. */
export function conv2dGradInputDefault(
  [dy, w]: readonly Tensor[],
  at: Conv2dAttrs,
  xShape: readonly number[],
): Tensor {
  const d = geometry(xShape, w.shape, dy.shape, at);
  const win = windows(d.h, d.w, [d.kh, d.kw], at, d.oh, d.ow, dy.backend.name);
  const wg = reshape(w, [d.g, d.og, d.cg * d.kh * d.kw]);
  const cols = matmul(dyRows(dy, d), wg); // [N, G, P, Cg*K]
  const perChannel = permute(reshape(cols, [d.n, d.g, d.oh * d.ow, d.cg, win.taps]), [0, 1, 3, 2, 4]);
  return col2im(reshape(perChannel, [d.n, d.c, d.oh * d.ow * win.taps]), win, at, d.h, d.w);
}

/** dw = sum over the batch of dy^T @ im2col(x): [x, dy] -> [dw]. */
export function conv2dGradFilterDefault(
  [x, dy]: readonly Tensor[],
  at: Conv2dAttrs,
  wShape: readonly number[],
): Tensor {
  const d = geometry(x.shape, wShape, dy.shape, at);
  const win = windows(d.h, d.w, [d.kh, d.kw], at, d.oh, d.ow, x.backend.name);
  const cols = im2col(x, win, at.padding[0], at.padding[1]); // [N, C, P, K]
  const rows = permute(reshape(cols, [d.n, d.g, d.cg, d.oh * d.ow, win.taps]), [0, 1, 3, 2, 4]);
  const colsG = reshape(rows, [d.n, d.g, d.oh * d.ow, d.cg * win.taps]);
  const dw = sum(matmul(permute(dyRows(dy, d), [0, 1, 3, 2]), colsG), 0); // [G, Og, Cg*K]
  return reshape(dw, wShape);
}
