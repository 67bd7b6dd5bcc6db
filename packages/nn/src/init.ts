import {
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
  requireFloat(t, "uniform_");
  if (!(a <= b)) throw new Error(`init.uniform_: expected a <= b, got a=${a}, b=${b}`);
  return writeInPlace(
    t,
    uniformTensor(t.shape, a, b, { generator: opts.generator, backend: t.backend.name }),
  );
}

/** Fills with values drawn from N(mean, std^2). */
export function normal_(t: Tensor, mean = 0, std = 1, opts: InitOptions = {}): Tensor {
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
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  const std = (o.gain ?? 1) * Math.sqrt(2 / nonZeroFan(fanIn + fanOut, "xavierUniform_", t.shape));
  const a = Math.sqrt(3) * std;
  return uniform_(t, -a, a, o);
}

/** Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fanIn + fanOut)). */
export function xavierNormal_(t: Tensor, opts: XavierOptions | number = {}): Tensor {
  const o = typeof opts === "number" ? { gain: opts } : opts;
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  const std = (o.gain ?? 1) * Math.sqrt(2 / nonZeroFan(fanIn + fanOut, "xavierNormal_", t.shape));
  return normal_(t, 0, std, o);
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
  const fan = nonZeroFan(fanFor(t, o.mode ?? "fan_in"), op, t.shape);
  const gain = calculateGain(o.nonlinearity ?? "leaky_relu", o.a ?? 0);
  return gain / Math.sqrt(fan);
}

/** He uniform: U(-bound, bound) with bound = gain * sqrt(3 / fan). */
export function kaimingUniform_(t: Tensor, opts: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd(t, opts, "kaimingUniform_");
  return uniform_(t, -bound, bound, opts);
}

/** He normal: N(0, std^2) with std = gain / sqrt(fan). */
export function kaimingNormal_(t: Tensor, opts: KaimingOptions = {}): Tensor {
  return normal_(t, 0, kaimingStd(t, opts, "kaimingNormal_"), opts);
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
