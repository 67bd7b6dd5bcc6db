import {
  checkOptionKeys,
  defaultGenerator,
  formatShape,
  fromArray,
  type Generator,
  normal as normalTensor,
  type Tensor,
  uniform as uniformTensor,
} from "@minibatch/tensor";

/**
 * Weight initializers (PyTorch `torch.nn.init`). Each one overwrites its tensor in place with
 * `assign` (so a parameter keeps its identity, `requiresGrad` and optimizer state) and returns it.
 * Random ones draw from `opts.generator`, or from the default generator (`manualSeed`).
 */

export interface InitOptions {
  generator?: Generator;
}

export type FanMode = "fan_in" | "fan_out" | "fanIn" | "fanOut";

/** PyTorch's names; camelCase spellings of the two-word ones are accepted too. */
export type Nonlinearity =
  | "linear"
  | "identity"
  | "conv1d"
  | "conv2d"
  | "conv3d"
  | "conv_transpose1d"
  | "conv_transpose2d"
  | "conv_transpose3d"
  | "sigmoid"
  | "tanh"
  | "relu"
  | "leaky_relu"
  | "leakyRelu"
  | "selu";

function writeInPlace(t: Tensor, value: Tensor): Tensor {
  try {
    t.assign(value);
  } finally {
    value.dispose();
  }
  return t;
}

function requireFloat(t: Tensor, op: string): void {
  if (t.dtype !== "float32") throw new Error(`init.${op}: expected a float32 tensor, got ${t.dtype}`);
}

/** Fills with values drawn uniformly from [a, b). */
export function uniform_(t: Tensor, a = 0, b = 1, opts: InitOptions = {}): Tensor {
  checkOptionKeys("init.uniform_", opts, ["generator"]);
  requireFloat(t, "uniform_");
  if (!(a <= b)) throw new Error(`init.uniform_: expected a <= b, got a=${a}, b=${b}`);
  return writeInPlace(
    t,
    uniformTensor(t.shape, a, b, { generator: opts.generator, backend: t.backend.name }),
  );
}

/** Fills with values drawn from N(mean, std^2). */
export function normal_(t: Tensor, mean = 0, std = 1, opts: InitOptions = {}): Tensor {
  checkOptionKeys("init.normal_", opts, ["generator"]);
  requireFloat(t, "normal_");
  if (!(std >= 0)) throw new Error(`init.normal_: std must be >= 0, got ${std}`);
  return writeInPlace(
    t,
    normalTensor(t.shape, mean, std, { generator: opts.generator, backend: t.backend.name }),
  );
}

/** Fills with one value (any dtype: bool takes 0/1, int32 needs an integer). */
export function constant_(t: Tensor, value: number): Tensor {
  if (t.dtype === "int32" && !Number.isInteger(value)) {
    throw new Error(`init.constant_: value ${value} is not an integer, as an int32 tensor requires`);
  }
  const arr =
    t.dtype === "float32"
      ? new Float32Array(t.size)
      : t.dtype === "int32"
        ? new Int32Array(t.size)
        : new Uint8Array(t.size);
  arr.fill(t.dtype === "bool" ? (value ? 1 : 0) : value);
  return writeInPlace(t, fromArray(arr, t.shape, t.dtype, { backend: t.backend.name }));
}

export const zeros_ = (t: Tensor): Tensor => constant_(t, 0);
export const ones_ = (t: Tensor): Tensor => constant_(t, 1);

/** The identity matrix in a 2-d tensor (PyTorch `eye_`); the extra rows or columns are zero. */
export function eye_(t: Tensor): Tensor {
  requireFloat(t, "eye_");
  if (t.rank !== 2) throw new Error(`init.eye_: expected a 2-d tensor, got ${formatShape(t.shape)}`);
  const [n, m] = t.shape;
  const arr = new Float32Array(n * m);
  for (let i = 0; i < Math.min(n, m); i++) arr[i * m + i] = 1;
  return writeInPlace(t, fromArray(arr, t.shape, "float32", { backend: t.backend.name }));
}

/**
 * Fan-in and fan-out of a weight as PyTorch computes them: dim 1 and dim 0 times the receptive
 * field (the product of the dims after the first two), so [out, in] and [out, in/groups, kh, kw]
 * both work.
 */
export function calculateFanInAndFanOut(t: Tensor | readonly number[]): { fanIn: number; fanOut: number } {
  const shape = Array.isArray(t) ? (t as readonly number[]) : (t as Tensor).shape;
  if (shape.length < 2) {
    throw new Error(
      `init: fan in and fan out cannot be computed for a tensor with fewer than 2 dimensions, got ${formatShape(shape)}`,
    );
  }
  let receptive = 1;
  for (let i = 2; i < shape.length; i++) receptive *= shape[i];
  return { fanIn: shape[1] * receptive, fanOut: shape[0] * receptive };
}

/** The recommended gain for a nonlinearity (PyTorch `calculate_gain`); `param` is leaky ReLU's slope. */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case "linear":
    case "identity":
    case "conv1d":
    case "conv2d":
    case "conv3d":
    case "conv_transpose1d":
    case "conv_transpose2d":
    case "conv_transpose3d":
    case "sigmoid":
      return 1;
    case "tanh":
      return 5 / 3;
    case "relu":
      return Math.SQRT2;
    case "leaky_relu":
    case "leakyRelu": {
      const slope = param ?? 0.01;
      if (typeof slope !== "number" || !Number.isFinite(slope)) {
        throw new Error(`init.calculateGain: negative slope ${slope} is not a valid number`);
      }
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case "selu":
      return 3 / 4;
    default:
      throw new Error(`init.calculateGain: unsupported nonlinearity '${nonlinearity}'`);
  }
}

function fanFor(t: Tensor, mode: FanMode): number {
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  if (mode === "fan_in" || mode === "fanIn") return fanIn;
  if (mode === "fan_out" || mode === "fanOut") return fanOut;
  throw new Error(`init: mode must be 'fan_in' or 'fan_out', got '${mode}'`);
}

function nonZeroFan(fan: number, op: string, shape: readonly number[]): number {
  // PyTorch warns and leaves the tensor alone for zero-element tensors; a zero fan otherwise divides by zero.
  if (fan === 0) throw new Error(`init.${op}: the fan of a tensor of shape ${formatShape(shape)} is 0`);
  return fan;
}

export interface XavierOptions extends InitOptions {
  gain?: number;
}

/** Glorot uniform: U(-a, a) with a = gain * sqrt(6 / (fanIn + fanOut)). */
export function xavierUniform_(t: Tensor, opts: XavierOptions | number = {}): Tensor {
  const o = typeof opts === "number" ? { gain: opts } : opts;
  checkOptionKeys("init.xavierUniform_", o, ["gain", "generator"]);
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  const std = (o.gain ?? 1) * Math.sqrt(2 / nonZeroFan(fanIn + fanOut, "xavierUniform_", t.shape));
  const a = Math.sqrt(3) * std;
  return uniform_(t, -a, a, { generator: o.generator });
}

/** Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fanIn + fanOut)). */
export function xavierNormal_(t: Tensor, opts: XavierOptions | number = {}): Tensor {
  const o = typeof opts === "number" ? { gain: opts } : opts;
  checkOptionKeys("init.xavierNormal_", o, ["gain", "generator"]);
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  const std = (o.gain ?? 1) * Math.sqrt(2 / nonZeroFan(fanIn + fanOut, "xavierNormal_", t.shape));
  return normal_(t, 0, std, { generator: o.generator });
}

export interface KaimingOptions extends InitOptions {
  /** The negative slope of the rectifier after this layer (leaky ReLU only). Default 0. */
  a?: number;
  /** Default 'fan_in' (preserves the forward pass's variance). */
  mode?: FanMode;
  /** Default 'leaky_relu', as PyTorch. */
  nonlinearity?: Nonlinearity;
}

function kaimingStd(t: Tensor, o: KaimingOptions, op: string): number {
  checkOptionKeys(`init.${op}`, o, ["a", "mode", "nonlinearity", "generator"]);
  const fan = nonZeroFan(fanFor(t, o.mode ?? "fan_in"), op, t.shape);
  const gain = calculateGain(o.nonlinearity ?? "leaky_relu", o.a ?? 0);
  return gain / Math.sqrt(fan);
}

/** He uniform: U(-bound, bound) with bound = gain * sqrt(3 / fan). */
export function kaimingUniform_(t: Tensor, opts: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd(t, opts, "kaimingUniform_");
  return uniform_(t, -bound, bound, { generator: opts.generator });
}

/** He normal: N(0, std^2) with std = gain / sqrt(fan). */
export function kaimingNormal_(t: Tensor, opts: KaimingOptions = {}): Tensor {
  return normal_(t, 0, kaimingStd(t, opts, "kaimingNormal_"), { generator: opts.generator });
}

/**
 * The default initialization of PyTorch's Linear and Conv layers: weight from kaiming uniform
 * with a = sqrt(5) (which works out to U(-1/sqrt(fanIn), 1/sqrt(fanIn))), bias from
 * U(-1/sqrt(fanIn), 1/sqrt(fanIn)).
 */
export function resetLinearLike(weight: Tensor, bias: Tensor | null, generator?: Generator): void {
  const g = generator ?? defaultGenerator;
  kaimingUniform_(weight, { a: Math.sqrt(5), generator: g });
  if (bias) {
    const { fanIn } = calculateFanInAndFanOut(weight);
    const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
    uniform_(bias, -bound, bound, { generator: g });
  }
}

// ---- structured and truncated initializers ---------------------------------------------------

function hostWrite(t: Tensor, values: Float32Array): Tensor {
  return writeInPlace(t, fromArray(values, t.shape, "float32", { backend: t.backend.name }));
}

/** Complementary error function (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7). */
function erfc(x: number): number {
  const z = Math.abs(x);
  const u = 1 / (1 + 0.5 * z);
  const coef = [
    -1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587,
    -0.82215223, 0.17087277,
  ];
  let poly = 0;
  for (let i = coef.length - 1; i >= 0; i--) poly = poly * u + coef[i];
  const r = u * Math.exp(-z * z + poly);
  return x >= 0 ? r : 2 - r;
}

/** Standard normal CDF. */
const normalCdf = (x: number): number => 0.5 * erfc(-x / Math.SQRT2);

/** Standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9). */
function normalQuantile(p: number): number {
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  if (p <= 0) return Number.NEGATIVE_INFINITY;
  if (p >= 1) return Number.POSITIVE_INFINITY;
  const lowTail = (q: number) =>
    (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
    ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  if (p < 0.02425) return lowTail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -lowTail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) /
    (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
  );
}

export interface TruncNormalOptions extends InitOptions {
  mean?: number;
  std?: number;
  /** Lower cut-off (in the values' units, not in stds); default -2. */
  a?: number;
  /** Upper cut-off; default 2. */
  b?: number;
}

/**
 * Fills with N(mean, std^2) restricted to [a, b] (PyTorch `trunc_normal_`; defaults mean 0, std 1,
 * a -2, b 2), by inverting the normal CDF on the allowed interval; cut-offs far in a tail work too.
 */
export function truncNormal_(t: Tensor, opts: TruncNormalOptions = {}): Tensor {
  checkOptionKeys("init.truncNormal_", opts, ["mean", "std", "a", "b", "generator"]);
  requireFloat(t, "truncNormal_");
  const { mean = 0, std = 1, a = -2, b = 2 } = opts;
  if (!(std > 0)) throw new Error(`init.truncNormal_: std must be > 0, got ${std}`);
  if (!(a < b)) throw new Error(`init.truncNormal_: expected a < b, got a=${a}, b=${b}`);
  const g = opts.generator ?? defaultGenerator;
  // Sample the tail the interval lies in from its own side, where the CDF keeps its precision.
  const flip = (a - mean) / std > 0;
  const lo = flip ? -(b - mean) / std : (a - mean) / std;
  const hi = flip ? -(a - mean) / std : (b - mean) / std;
  const pLo = normalCdf(lo);
  const pHi = normalCdf(hi);
  const out = new Float32Array(t.size);
  for (let i = 0; i < out.length; i++) {
    const z = normalQuantile(pLo + (pHi - pLo) * g.random());
    const x = mean + std * (flip ? -z : z);
    out[i] = Math.min(b, Math.max(a, x));
  }
  return hostWrite(t, out);
}

/**
 * Fills with a (semi-)orthogonal matrix times `gain` (PyTorch `orthogonal_`): the tensor is seen as
 * [shape[0], rest] and gets the Q of the QR decomposition of a standard normal matrix, with signs
 * fixed so that R's diagonal is positive (a uniformly distributed orthogonal matrix).
 */
export function orthogonal_(t: Tensor, opts: { gain?: number; generator?: Generator } = {}): Tensor {
  checkOptionKeys("init.orthogonal_", opts, ["gain", "generator"]);
  requireFloat(t, "orthogonal_");
  if (t.rank < 2) {
    throw new Error(
      `init.orthogonal_: expected a tensor with at least 2 dimensions, got ${formatShape(t.shape)}`,
    );
  }
  const gain = opts.gain ?? 1;
  const g = opts.generator ?? defaultGenerator;
  const rows = t.shape[0];
  const cols = t.size / rows;
  // QR of the tall orientation: m >= n.
  const tall = rows >= cols;
  const m = tall ? rows : cols;
  const n = tall ? cols : rows;
  const A = new Float64Array(m * n); // row-major [m, n]
  for (let i = 0; i < m * n; i++) A[i] = g.normal();
  const q = thinQ(A, m, n);
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const v = gain * q[i * n + j];
      if (tall) out[i * n + j] = v;
      else out[j * m + i] = v;
    }
  }
  return hostWrite(t, out);
}

/** Q [m, n] of A = QR (m >= n) by Householder reflections, with R's diagonal made positive. */
function thinQ(A: Float64Array, m: number, n: number): Float64Array {
  const vs: Float64Array[] = [];
  const rDiag = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const v = new Float64Array(m - k);
    let norm = 0;
    for (let i = k; i < m; i++) {
      v[i - k] = A[i * n + k];
      norm += v[i - k] ** 2;
    }
    norm = Math.sqrt(norm);
    const alpha = v[0] > 0 ? -norm : norm;
    rDiag[k] = alpha;
    v[0] -= alpha;
    let vn = 0;
    for (const x of v) vn += x * x;
    vn = Math.sqrt(vn);
    if (vn > 0) for (let i = 0; i < v.length; i++) v[i] /= vn;
    vs.push(v);
    // A[k:, k:] -= 2 v (v^T A[k:, k:])
    for (let j = k; j < n; j++) {
      let dot = 0;
      for (let i = k; i < m; i++) dot += v[i - k] * A[i * n + j];
      for (let i = k; i < m; i++) A[i * n + j] -= 2 * v[i - k] * dot;
    }
  }
  // Q = H_0 ... H_{n-1} I[:, :n], applied right to left.
  const Q = new Float64Array(m * n);
  for (let j = 0; j < n; j++) Q[j * n + j] = 1;
  for (let k = n - 1; k >= 0; k--) {
    const v = vs[k];
    for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let i = k; i < m; i++) dot += v[i - k] * Q[i * n + j];
      for (let i = k; i < m; i++) Q[i * n + j] -= 2 * v[i - k] * dot;
    }
  }
  for (let j = 0; j < n; j++) {
    if (rDiag[j] < 0) for (let i = 0; i < m; i++) Q[i * n + j] = -Q[i * n + j];
  }
  return Q;
}

/**
 * A sparse 2-d matrix (PyTorch `sparse_`): entries from N(0, std^2), then in every column
 * ceil(sparsity · rows) entries, chosen at random, set to zero. std defaults to 0.01.
 */
export function sparse_(
  t: Tensor,
  sparsity: number,
  opts: { std?: number; generator?: Generator } = {},
): Tensor {
  checkOptionKeys("init.sparse_", opts, ["std", "generator"]);
  requireFloat(t, "sparse_");
  if (t.rank !== 2) throw new Error(`init.sparse_: expected a 2-d tensor, got ${formatShape(t.shape)}`);
  if (!(sparsity >= 0 && sparsity <= 1)) {
    throw new Error(`init.sparse_: sparsity must be in [0, 1], got ${sparsity}`);
  }
  const std = opts.std ?? 0.01;
  if (!(std >= 0)) throw new Error(`init.sparse_: std must be >= 0, got ${std}`);
  const g = opts.generator ?? defaultGenerator;
  const [rows, cols] = t.shape;
  const zerosPerColumn = Math.ceil(sparsity * rows);
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < out.length; i++) out[i] = std * g.normal();
  for (let j = 0; j < cols; j++) {
    const perm = g.permutation(rows);
    for (let k = 0; k < zerosPerColumn; k++) out[perm[k] * cols + j] = 0;
  }
  return hostWrite(t, out);
}

/**
 * The Dirac delta in a 3-, 4- or 5-d convolution weight [out, in, ...kernel] (PyTorch `dirac_`):
 * a convolution with it copies input channel d to output channel d (within each of `groups`),
 * through the kernel's centre (index floor(k/2) along each axis). Everything else is zero.
 */
export function dirac_(t: Tensor, groups = 1): Tensor {
  requireFloat(t, "dirac_");
  if (t.rank < 3 || t.rank > 5) {
    throw new Error(`init.dirac_: expected a 3-, 4- or 5-d tensor, got ${formatShape(t.shape)}`);
  }
  if (!(Number.isInteger(groups) && groups >= 1 && t.shape[0] % groups === 0)) {
    throw new Error(
      `init.dirac_: groups=${groups} must be a positive integer dividing shape[0]=${t.shape[0]}`,
    );
  }
  const perGroup = t.shape[0] / groups;
  const minDim = Math.min(perGroup, t.shape[1]);
  const strides = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((x, y) => x * y, 1));
  const centre = t.shape.slice(2).reduce((acc, k, i) => acc + Math.floor(k / 2) * strides[i + 2], 0);
  const out = new Float32Array(t.size);
  for (let gi = 0; gi < groups; gi++) {
    for (let d = 0; d < minDim; d++) out[(gi * perGroup + d) * strides[0] + d * strides[1] + centre] = 1;
  }
  return hostWrite(t, out);
}
