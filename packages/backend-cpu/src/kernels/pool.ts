import type { Kernel, Pool2dAttrs, TensorInfo, TypedArray } from "@minibatch/tensor";
import { buf, type CpuBackend } from "../backend";

/** Calls visit(outIndex, inPlaneBase, ih0, iw0) for every output position of a pooling window. */
function eachWindow(
  x: TensorInfo,
  y: TensorInfo,
  at: Pool2dAttrs,
  visit: (out: number, plane: number, ih0: number, iw0: number) => void,
): void {
  const [n, c, h, w] = x.shape;
  const [oh, ow] = [y.shape[2], y.shape[3]];
  for (let p = 0; p < n * c; p++) {
    for (let r = 0; r < oh; r++) {
      for (let q = 0; q < ow; q++)
        visit(
          (p * oh + r) * ow + q,
          p * h * w,
          r * at.stride[0] - at.padding[0],
          q * at.stride[1] - at.padding[1],
        );
    }
  }
}

/** Index (within the plane) of the window's maximum; the first one on ties, NaN wins. */
function argmaxWindow(
  X: TypedArray,
  plane: number,
  ih0: number,
  iw0: number,
  h: number,
  w: number,
  at: Pool2dAttrs,
): number {
  let best = Number.NEGATIVE_INFINITY;
  let at_ = -1;
  for (let i = Math.max(0, ih0); i < Math.min(h, ih0 + at.kernel[0]); i++) {
    for (let j = Math.max(0, iw0); j < Math.min(w, iw0 + at.kernel[1]); j++) {
      const v = X[plane + i * w + j];
      if (at_ < 0 || v > best || (v !== v && best === best)) {
        best = v;
        at_ = i * w + j;
      }
    }
  }
  return at_;
}

export const maxPool2dKernel: Kernel<"maxPool2d", CpuBackend> = (_b, [x], [y], at) => {
  const X = buf(x);
  const Y = buf(y);
  const [h, w] = [x.shape[2], x.shape[3]];
  eachWindow(x, y, at, (o, plane, ih0, iw0) => {
    Y[o] = X[plane + argmaxWindow(X, plane, ih0, iw0, h, w, at)];
  });
};

export const maxPool2dGradKernel: Kernel<"maxPool2dGrad", CpuBackend> = (_b, [x, dy], [dx], at) => {
  const X = buf(x);
  const DY = buf(dy);
  const DX = buf(dx);
  DX.fill(0);
  const [h, w] = [x.shape[2], x.shape[3]];
  eachWindow(x, dy, at, (o, plane, ih0, iw0) => {
    DX[plane + argmaxWindow(X, plane, ih0, iw0, h, w, at)] += DY[o];
  });
};

export const avgPool2dKernel: Kernel<"avgPool2d", CpuBackend> = (_b, [x], [y], at) => {
  const X = buf(x);
  const Y = buf(y);
  const [h, w] = [x.shape[2], x.shape[3]];
  const area = at.kernel[0] * at.kernel[1];
  eachWindow(x, y, at, (o, plane, ih0, iw0) => {
    let s = 0;
    for (let i = Math.max(0, ih0); i < Math.min(h, ih0 + at.kernel[0]); i++) {
      for (let j = Math.max(0, iw0); j < Math.min(w, iw0 + at.kernel[1]); j++) s += X[plane + i * w + j];
    }
    Y[o] = s / area;
  });
};

export const avgPool2dGradKernel: Kernel<"avgPool2dGrad", CpuBackend> = (_b, [dy], [dx], at) => {
  const DY = buf(dy);
  const DX = buf(dx);
  DX.fill(0);
  const [h, w] = [dx.shape[2], dx.shape[3]];
  const area = at.kernel[0] * at.kernel[1];
  eachWindow(dx, dy, at, (o, plane, ih0, iw0) => {
    const g = DY[o] / area;
    for (let i = Math.max(0, ih0); i < Math.min(h, ih0 + at.kernel[0]); i++) {
      for (let j = Math.max(0, iw0); j < Math.min(w, iw0 + at.kernel[1]); j++) DX[plane + i * w + j] += g;
    }
  });
};
