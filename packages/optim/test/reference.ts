/**
 * Float64 reference implementations of the update rules, written from PyTorch's documented
 * algorithms on plain arrays, independent of the tensor code. Each returns a stateful step
 * function that updates `p` in place from the gradient `g`.
 */
export type RefStep = (p: number[], g: number[]) => void;

export function sgdRef(o: {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
  maximize?: boolean;
}): RefStep {
  const { lr, momentum = 0, dampening = 0, weightDecay = 0, nesterov = false, maximize = false } = o;
  let buf: number[] | null = null;
  return (p, grad) => {
    const g = grad.map((gi, i) => (maximize ? -gi : gi) + weightDecay * p[i]);
    let d = g;
    if (momentum !== 0) {
      buf = buf === null ? [...g] : buf.map((b, i) => momentum * b + (1 - dampening) * g[i]);
      const b = buf;
      d = nesterov ? g.map((gi, i) => gi + momentum * b[i]) : b;
    }
    for (let i = 0; i < p.length; i++) p[i] -= lr * d[i];
  };
}

export function adamRef(o: {
  lr: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  amsgrad?: boolean;
  maximize?: boolean;
  decoupled?: boolean;
}): RefStep {
  const { lr, betas = [0.9, 0.999], eps = 1e-8, weightDecay = 0, amsgrad = false, maximize = false } = o;
  const [b1, b2] = betas;
  let m: number[] = [];
  let v: number[] = [];
  let vMax: number[] = [];
  let t = 0;
  return (p, grad) => {
    t++;
    if (t === 1) {
      m = p.map(() => 0);
      v = p.map(() => 0);
      vMax = p.map(() => 0);
    }
    for (let i = 0; i < p.length; i++) {
      let g = maximize ? -grad[i] : grad[i];
      if (o.decoupled) p[i] *= 1 - lr * weightDecay;
      else g += weightDecay * p[i];
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      vMax[i] = Math.max(vMax[i], v[i]);
      const mHat = m[i] / (1 - b1 ** t);
      const vHat = (amsgrad ? vMax[i] : v[i]) / (1 - b2 ** t);
      p[i] -= (lr * mHat) / (Math.sqrt(vHat) + eps);
    }
  };
}

export function rmspropRef(o: {
  lr: number;
  alpha?: number;
  eps?: number;
  weightDecay?: number;
  momentum?: number;
  centered?: boolean;
}): RefStep {
  const { lr, alpha = 0.99, eps = 1e-8, weightDecay = 0, momentum = 0, centered = false } = o;
  let v: number[] | null = null;
  let gAvg: number[] = [];
  let buf: number[] = [];
  return (p, grad) => {
    if (v === null) {
      v = p.map(() => 0);
      gAvg = p.map(() => 0);
      buf = p.map(() => 0);
    }
    for (let i = 0; i < p.length; i++) {
      const g = grad[i] + weightDecay * p[i];
      v[i] = alpha * v[i] + (1 - alpha) * g * g;
      let variance = v[i];
      if (centered) {
        gAvg[i] = alpha * gAvg[i] + (1 - alpha) * g;
        variance -= gAvg[i] * gAvg[i];
      }
      const denom = Math.sqrt(variance) + eps;
      if (momentum > 0) {
        buf[i] = momentum * buf[i] + g / denom;
        p[i] -= lr * buf[i];
      } else {
        p[i] -= (lr * g) / denom;
      }
    }
  };
}
