// Float32 elementwise unary ops and sums in WebAssembly SIMD (f32x4), for the CPU backend.
//
// exp, expm1 and log are computed from scratch: reduce the argument (x = n ln2 + r for exp and
// expm1, x = 2^e m for log), evaluate a short polynomial on the reduced range, and rebuild the
// result. The polynomial coefficients were fitted for this file (weighted least squares iterated
// towards minimax on the relative error, then rounded to float32); their own error is below 4e-9,
// well under float32's half ulp (6e-8), so the rounding of the f32 arithmetic dominates. Without
// FMA (relaxed SIMD is not in Node 20) every product rounds, so the reductions keep the cancelling
// parts exact (Cody-Waite split of ln2) and add small corrections last. The other ops are built
// from these: sigmoid and softplus from exp and log1p, tanh from expm1. Special values (±0, ±Inf,
// NaN, overflow, underflow into subnormals) follow the TypeScript kernels (UNARY_CPU).

const LOG2E: f32 = 1.4426950216;
// ln2 = LN2_HI + LN2_LO with LN2_HI holding 15 significant bits, so n * LN2_HI is exact for |n| < 512.
const LN2_HI: f32 = 0.693145751953125;
const LN2_LO: f32 = 1.428606765330187e-6;

// e^r ~ 1 + r + r^2 (E0 + E1 r + E2 r^2 + E3 r^3 + E4 r^4) on |r| <= ln2 / 2 (relative error 3.8e-9)
const E0: f32 = 0.4999999403953552;
const E1: f32 = 0.1666652113199234;
const E2: f32 = 0.04166838899254799;
const E3: f32 = 0.008368710055947304;
const E4: f32 = 0.0013814611593261361;

// e^r - 1 ~ r + r^2 / 2 + r^3 (M0 + M1 r + M2 r^2 + M3 r^3 + M4 r^4) on |r| <= ln2 / 2 (1.1e-9)
const M0: f32 = 0.1666666567325592;
const M1: f32 = 0.041666481643915176;
const M2: f32 = 0.0083334194496274;
const M3: f32 = 0.00139332446269691;
const M4: f32 = 0.00019824127957690507;

// log1p(f) = 2 atanh(s), s = f / (2 + f): 2 s + s R(s^2), R(z) ~ z (L0 + L1 z + L2 z^2) on
// |s| <= (sqrt2 - 1) / (sqrt2 + 1) (8.2e-10 relative to log1p)
const L0: f32 = 0.6666677594184875;
const L1: f32 = 0.39977574348449707;
const L2: f32 = 0.2987094819545746;

const SQRT_HALF_BITS: i32 = 0x3f3504f3;
const ROUNDER_BITS: i32 = 0x4b400000; // the bits of 1.5 * 2^23
const FLT_MIN: f32 = 1.1754943508222875e-38;

@inline
function splat(v: f32): v128 {
  return f32x4.splat(v);
}

/** Lanes of a where mask is set, else lanes of b. */
@inline
function sel(mask: v128, a: v128, b: v128): v128 {
  return v128.bitselect(a, b, mask);
}

/** 2^n for integer lanes -126 <= n <= 127. */
@inline
function pow2i(n: v128): v128 {
  return i32x4.shl(i32x4.add(n, i32x4.splat(127)), 23);
}

/** n = round(x / ln2) and r = x - n ln2 (|r| <= ln2 / 2); x must be bounded. */
@inline
function reduceLn2(x: v128, n: v128): v128 {
  return f32x4.sub(f32x4.sub(x, f32x4.mul(n, splat(LN2_HI))), f32x4.mul(n, splat(LN2_LO)));
}

/**
 * n = round(x / ln2) both as a float and as an integer (in the low bits of the sum): adding
 * 1.5 * 2^23 rounds to an integer (to even) and puts it in the mantissa, for |n| < 2^22. A NaN
 * gives garbage bits, which only scale the NaN that the polynomial carries.
 */
const ROUNDER: f32 = 12582912;

@inline
function roundLog2e(x: v128): v128 {
  return f32x4.add(f32x4.mul(x, splat(LOG2E)), splat(ROUNDER));
}

/** x clamped to [lo, hi]; NaN stays NaN (pmin / pmax are one instruction each, unlike min / max). */
@inline
function clamp(x: v128, lo: f32, hi: f32): v128 {
  return f32x4.pmax(f32x4.pmin(x, splat(hi)), splat(lo));
}

/** e^x: 0 below about -103.97 (through the subnormals), +Inf above about 88.72, NaN stays NaN. */
@inline
function expv(x: v128): v128 {
  return expCore(x, f32x4.splat(0));
}

/** e^(x + lo) for a small lo that the float32 sum x + lo would round away. */
@inline
function expCore(x: v128, lo: v128): v128 {
  const xc = clamp(x, -104, 89);
  const t = roundLog2e(xc);
  const nf = f32x4.sub(t, splat(ROUNDER));
  const r = f32x4.add(reduceLn2(xc, nf), lo);
  let p = f32x4.add(f32x4.mul(splat(E4), r), splat(E3));
  p = f32x4.add(f32x4.mul(p, r), splat(E2));
  p = f32x4.add(f32x4.mul(p, r), splat(E1));
  p = f32x4.add(f32x4.mul(p, r), splat(E0));
  p = f32x4.add(splat(1), f32x4.add(r, f32x4.mul(f32x4.mul(r, r), p)));
  // 2^n in two factors, each a normal float for -150 <= n <= 129: the last product rounds once,
  // into the subnormals or to Inf when the result is there.
  const n = i32x4.sub(t, i32x4.splat(ROUNDER_BITS));
  const n1 = i32x4.shr_s(n, 1);
  return f32x4.mul(f32x4.mul(p, pow2i(n1)), pow2i(i32x4.sub(n, n1)));
}

/** e^x - 1, exact for tiny |x| (and keeps -0); -1 below about -17.3, +Inf above about 88.72. */
@inline
function expm1v(x: v128): v128 {
  const xc = clamp(x, -26, 89);
  const tn = roundLog2e(xc);
  const nf = f32x4.sub(tn, splat(ROUNDER));
  const r = reduceLn2(xc, nf);
  const r2 = f32x4.mul(r, r);
  let q = f32x4.add(f32x4.mul(splat(M4), r), splat(M3));
  q = f32x4.add(f32x4.mul(q, r), splat(M2));
  q = f32x4.add(f32x4.mul(q, r), splat(M1));
  q = f32x4.add(f32x4.mul(q, r), splat(M0));
  const em = f32x4.add(r, f32x4.add(f32x4.mul(r2, splat(0.5)), f32x4.mul(f32x4.mul(r2, r), q)));
  // e^x - 1 = 2^n em + 2^n - 1 = 2 (2^(n-1) em + (2^(n-1) - 1/2)): 2^(n-1) is a normal float for
  // every n here (-38 .. 128), and the doubling is exact or overflows to Inf as it should.
  const t = pow2i(i32x4.sub(tn, i32x4.splat(ROUNDER_BITS + 1)));
  const v = f32x4.add(f32x4.mul(em, t), f32x4.sub(t, splat(0.5)));
  const res = f32x4.add(v, v);
  return sel(f32x4.lt(f32x4.abs(x), splat(1e-10)), x, res);
}

/**
 * log(u) + corr for finite u > 0 (subnormals included), corr a small correction: u = 2^e m with
 * sqrt(1/2) <= m < sqrt(2), log(u) = e ln2 + log1p(m - 1).
 */
@inline
function logCore(u: v128, corr: v128): v128 {
  const tiny = f32x4.lt(u, splat(FLT_MIN));
  const us = sel(tiny, f32x4.mul(u, splat(33554432)), u); // subnormals times 2^25
  const k = i32x4.sub(us, i32x4.splat(SQRT_HALF_BITS));
  const e = i32x4.shr_s(k, 23);
  const m = i32x4.sub(us, i32x4.shl(e, 23));
  const ef = f32x4.convert_i32x4_s(i32x4.sub(e, v128.and(tiny, i32x4.splat(25))));
  const f = f32x4.sub(m, splat(1)); // exact
  const s = f32x4.div(f, f32x4.add(splat(2), f));
  const z = f32x4.mul(s, s);
  let rz = f32x4.add(f32x4.mul(splat(L2), z), splat(L1));
  rz = f32x4.mul(f32x4.add(f32x4.mul(rz, z), splat(L0)), z);
  // log1p(f) = f - s (f - R): the rounding of s only reaches the small correction term.
  const hi = f32x4.add(f32x4.mul(ef, splat(LN2_HI)), f);
  const lo = f32x4.add(f32x4.sub(f32x4.mul(ef, splat(LN2_LO)), f32x4.mul(s, f32x4.sub(f, rz))), corr);
  return f32x4.add(hi, lo);
}

/** log x: NaN below 0, -Inf at ±0, +Inf at +Inf. */
@inline
function logv(x: v128): v128 {
  let res = logCore(x, f32x4.splat(0));
  res = sel(f32x4.lt(x, splat(Infinity)), res, x); // +Inf and NaN
  res = sel(f32x4.eq(x, splat(0)), splat(-Infinity), res);
  return sel(f32x4.lt(x, splat(0)), splat(NaN), res);
}

/** log(1 + x), exact for tiny |x| (and keeps -0): -Inf at -1, NaN below it. */
@inline
function log1pv(x: v128): v128 {
  const u = f32x4.add(splat(1), x);
  // the rounding error of 1 + x, exactly (Fast2Sum, larger operand first)
  const c = sel(
    f32x4.le(f32x4.abs(x), splat(1)),
    f32x4.sub(x, f32x4.sub(u, splat(1))),
    f32x4.sub(splat(1), f32x4.sub(u, x)),
  );
  let res = logCore(u, f32x4.div(c, u));
  res = sel(f32x4.lt(x, splat(Infinity)), res, x);
  res = sel(f32x4.eq(x, splat(0)), x, res);
  res = sel(f32x4.eq(x, splat(-1)), splat(-Infinity), res);
  return sel(f32x4.lt(x, splat(-1)), splat(NaN), res);
}

/** 1 / (1 + e^-x) without overflow: e = e^-|x| <= 1, then 1 / (1 + e) or e / (1 + e). */
@inline
function sigmoidv(x: v128): v128 {
  const e = expv(f32x4.neg(f32x4.abs(x)));
  return f32x4.div(sel(f32x4.ge(x, splat(0)), splat(1), e), f32x4.add(splat(1), e));
}

/** tanh x = -u / (2 + u) with u = e^(-2|x|) - 1 in (-1, 0], the sign of x put back (keeps -0). */
@inline
function tanhv(x: v128): v128 {
  const u = expm1v(f32x4.mul(f32x4.abs(x), splat(-2)));
  const t = f32x4.div(f32x4.neg(u), f32x4.add(splat(2), u));
  return v128.or(t, v128.and(x, i32x4.splat(<i32>0x80000000)));
}

/** PyTorch's softplus (threshold 20): x above 20, else max(x, 0) + log1p(e^-|x|). */
@inline
function softplusv(x: v128): v128 {
  const l = log1pv(expv(f32x4.neg(f32x4.abs(x))));
  return sel(f32x4.gt(x, splat(20)), x, f32x4.add(f32x4.pmax(x, splat(0)), l));
}

/** 1 / sqrt(x) in float64 lanes, rounded once to float32: the TypeScript kernel's values exactly. */
@inline
function rsqrtv(x: v128): v128 {
  const one = f64x2.splat(1);
  const a = f64x2.div(one, f64x2.sqrt(f64x2.promote_low_f32x4(x)));
  const b = f64x2.div(one, f64x2.sqrt(f64x2.promote_low_f32x4(high(x))));
  return demote4(a, b);
}

// GELU, x Phi(x) with Phi the normal CDF (erf form). Near 0, Phi(x) - 1/2 = x (G0 + G1 x^2 + ...
// + G5 x^10) for |x| <= 1 (relative error 3.4e-8). Further out through erfc(z), z = |x| / sqrt2:
// erfc(z) = e^(-x^2/2) R(z), R(z) = erfc(z) e^(z^2) a polynomial in s = (2 / (2 + z) - TC) * TS
// for 0.7 <= z <= 6 (1.4e-7). x^2 / 2 is passed to exp in two parts (x = xh + xl with xh of 12
// bits, x^2 = xh^2 + (x - xh)(x + xh)), as rounding it would cost |x|^2 / 2 * 2^-24 of relative
// error. Beyond |x| / sqrt2 = 6 the TypeScript kernel's erf is exactly ±1, so gelu is x or -0.
const G0: f32 = 0.3989422917366028;
const G1: f32 = -0.06649035960435867;
const G2: f32 = 0.009973322972655296;
const G3: f32 = -0.0011863299878314137;
const G4: f32 = 0.00011348635598551482;
const G5: f32 = -7.654201908735558e-6;
const R0: f32 = 0.2513290047645569;
const R1: f32 = 0.2075098752975464;
const R2: f32 = 0.05772541090846062;
const R3: f32 = 0.009334094822406769;
const R4: f32 = 0.00023646173940505832;
const R5: f32 = -0.00019834144040942192;
const R6: f32 = -1.2829397746827453e-5;
const R7: f32 = 6.7085657065035775e-6;
const R8: f32 = 2.3781130664701777e-7;
const R9: f32 = -2.649395582920988e-7;
const TC: f32 = 0.4952143;
const TS: f32 = 4.072881;
const GELU_END: f32 = 8.485282; // the least float32 with x / sqrt2 > 6

@inline
function geluv(x: v128): v128 {
  const ax = f32x4.abs(x);
  const x2 = f32x4.mul(x, x);
  let q = f32x4.add(f32x4.mul(splat(G5), x2), splat(G4));
  q = f32x4.add(f32x4.mul(q, x2), splat(G3));
  q = f32x4.add(f32x4.mul(q, x2), splat(G2));
  q = f32x4.add(f32x4.mul(q, x2), splat(G1));
  q = f32x4.add(f32x4.mul(q, x2), splat(G0));
  const near = f32x4.mul(x, f32x4.add(splat(0.5), f32x4.mul(x, q)));
  const xh = v128.and(ax, i32x4.splat(<i32>0xfffff000));
  const d = f32x4.mul(f32x4.sub(ax, xh), f32x4.add(ax, xh));
  const z = f32x4.mul(ax, splat(0.7071067811865476));
  const sv = f32x4.mul(f32x4.sub(f32x4.div(splat(2), f32x4.add(splat(2), z)), splat(TC)), splat(TS));
  let r = f32x4.add(f32x4.mul(splat(R9), sv), splat(R8));
  r = f32x4.add(f32x4.mul(r, sv), splat(R7));
  r = f32x4.add(f32x4.mul(r, sv), splat(R6));
  r = f32x4.add(f32x4.mul(r, sv), splat(R5));
  r = f32x4.add(f32x4.mul(r, sv), splat(R4));
  r = f32x4.add(f32x4.mul(r, sv), splat(R3));
  r = f32x4.add(f32x4.mul(r, sv), splat(R2));
  r = f32x4.add(f32x4.mul(r, sv), splat(R1));
  r = f32x4.add(f32x4.mul(r, sv), splat(R0));
  // half erfc(z) = e^(-xh^2 / 2 - d / 2) R / 2
  const e = expCore(f32x4.mul(f32x4.mul(xh, xh), splat(-0.5)), f32x4.mul(d, splat(-0.5)));
  const he = f32x4.mul(e, f32x4.mul(r, splat(0.5)));
  const pos = f32x4.gt(x, splat(0));
  const xe = f32x4.mul(x, he);
  const far = sel(pos, f32x4.sub(x, xe), xe);
  const res = sel(f32x4.le(ax, splat(1)), near, far);
  return sel(f32x4.ge(ax, splat(GELU_END)), sel(pos, x, f32x4.mul(x, splat(0))), res);
}

/** max(x, 0) with NaN kept and -0 -> 0, as the TypeScript relu. */
@inline
function reluv(x: v128): v128 {
  return sel(f32x4.ne(x, x), x, sel(f32x4.gt(x, splat(0)), x, splat(0)));
}

/** 1, -1, or x itself for ±0 and NaN. */
@inline
function signv(x: v128): v128 {
  return sel(f32x4.gt(x, splat(0)), splat(1), sel(f32x4.lt(x, splat(0)), splat(-1), x));
}

// The op codes of unaryF32; src/kernels/simd.ts holds the same table.
const NEG = 0;
const ABS = 1;
const SIGN = 2;
const EXP = 3;
const LOG = 4;
const LOG1P = 5;
const EXPM1 = 6;
const SQRT = 7;
const RSQRT = 8;
const RELU = 9;
const SIGMOID = 10;
const TANH = 11;
const SOFTPLUS = 12;
const GELU = 13;

@inline
function apply(op: i32, x: v128): v128 {
  if (op === NEG) return f32x4.neg(x);
  if (op === ABS) return f32x4.abs(x);
  if (op === SIGN) return signv(x);
  if (op === EXP) return expv(x);
  if (op === LOG) return logv(x);
  if (op === LOG1P) return log1pv(x);
  if (op === EXPM1) return expm1v(x);
  if (op === SQRT) return f32x4.sqrt(x);
  if (op === RSQRT) return rsqrtv(x);
  if (op === RELU) return reluv(x);
  if (op === SIGMOID) return sigmoidv(x);
  if (op === TANH) return tanhv(x);
  if (op === GELU) return geluv(x);
  return softplusv(x);
}

// Inlined once per op with a constant code, so each op gets its own loop without branches. The
// last n % 4 values go through the same vector code in the lanes of one vector (no static scratch
// memory, which threads sharing the memory would race on).
@inline
function unaryLoop(op: i32, x: usize, y: usize, n: i32): void {
  const nv = n & ~3;
  for (let i = 0; i < nv; i += 4) {
    const o = (<usize>i) << 2;
    v128.store(y + o, apply(op, v128.load(x + o)));
  }
  const rest = n - nv;
  if (rest > 0) {
    const px = x + ((<usize>nv) << 2);
    const py = y + ((<usize>nv) << 2);
    let v = f32x4.splat(load<f32>(px));
    if (rest > 1) v = f32x4.replace_lane(v, 1, load<f32>(px, 4));
    if (rest > 2) v = f32x4.replace_lane(v, 2, load<f32>(px, 8));
    const r = apply(op, v);
    store<f32>(py, f32x4.extract_lane(r, 0));
    if (rest > 1) store<f32>(py, f32x4.extract_lane(r, 1), 4);
    if (rest > 2) store<f32>(py, f32x4.extract_lane(r, 2), 8);
  }
}

/** y = op(x) over n floats (x and y may be the same block); op codes as above. */
export function unaryF32(op: i32, x: usize, y: usize, n: i32): void {
  switch (op) {
    case NEG:
      unaryLoop(NEG, x, y, n);
      break;
    case ABS:
      unaryLoop(ABS, x, y, n);
      break;
    case SIGN:
      unaryLoop(SIGN, x, y, n);
      break;
    case EXP:
      unaryLoop(EXP, x, y, n);
      break;
    case LOG:
      unaryLoop(LOG, x, y, n);
      break;
    case LOG1P:
      unaryLoop(LOG1P, x, y, n);
      break;
    case EXPM1:
      unaryLoop(EXPM1, x, y, n);
      break;
    case SQRT:
      unaryLoop(SQRT, x, y, n);
      break;
    case RSQRT:
      unaryLoop(RSQRT, x, y, n);
      break;
    case RELU:
      unaryLoop(RELU, x, y, n);
      break;
    case SIGMOID:
      unaryLoop(SIGMOID, x, y, n);
      break;
    case TANH:
      unaryLoop(TANH, x, y, n);
      break;
    case GELU:
      unaryLoop(GELU, x, y, n);
      break;
    default:
      unaryLoop(SOFTPLUS, x, y, n);
  }
}

// ---- sums -------------------------------------------------------------------------------------
//
// Float32 sums over [outer, reduce, inner] accumulated in float64 (f64x2 lanes), as the
// TypeScript kernel does: each output is the float64 sum of its float32 terms, rounded once.

@inline
function high(v: v128): v128 {
  return v128.shuffle<f32>(v, v, 2, 3, 0, 1);
}

/** Four float32 lanes from two f64x2, each rounded once. */
@inline
function demote4(lo: v128, hi: v128): v128 {
  return v128.shuffle<f32>(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
}

/** y[o] = sum of the `reduce` contiguous floats of row o (inner == 1). */
function sumRows(x: usize, y: usize, outer: i32, reduce: i32): void {
  const n8 = reduce & ~7;
  for (let o = 0; o < outer; o++) {
    const row = x + ((<usize>o * <usize>reduce) << 2);
    let a0 = f64x2.splat(0);
    let a1 = f64x2.splat(0);
    let a2 = f64x2.splat(0);
    let a3 = f64x2.splat(0);
    for (let r = 0; r < n8; r += 8) {
      const p = row + ((<usize>r) << 2);
      const v = v128.load(p);
      const w = v128.load(p, 16);
      a0 = f64x2.add(a0, f64x2.promote_low_f32x4(v));
      a1 = f64x2.add(a1, f64x2.promote_low_f32x4(high(v)));
      a2 = f64x2.add(a2, f64x2.promote_low_f32x4(w));
      a3 = f64x2.add(a3, f64x2.promote_low_f32x4(high(w)));
    }
    const t = f64x2.add(f64x2.add(a0, a1), f64x2.add(a2, a3));
    let s = f64x2.extract_lane(t, 0) + f64x2.extract_lane(t, 1);
    for (let r = n8; r < reduce; r++) s += <f64>load<f32>(row + ((<usize>r) << 2));
    store<f32>(y + ((<usize>o) << 2), <f32>s);
  }
}

/**
 * y[o, i] = sum over r of x[o, r, i] (inner > 1), 8 columns at a time down the reduced axis, then
 * 4, then one: each column's terms are added in order, as in the TypeScript kernel.
 */
function sumColumns(x: usize, y: usize, outer: i32, reduce: i32, inner: i32): void {
  const stride = (<usize>inner) << 2;
  const i8 = inner & ~7;
  const i4 = inner & ~3;
  for (let o = 0; o < outer; o++) {
    const base = x + ((<usize>o * <usize>reduce * <usize>inner) << 2);
    const out = y + ((<usize>o * <usize>inner) << 2);
    for (let i = 0; i < i8; i += 8) {
      let p = base + ((<usize>i) << 2);
      let a0 = f64x2.splat(0);
      let a1 = f64x2.splat(0);
      let a2 = f64x2.splat(0);
      let a3 = f64x2.splat(0);
      for (let r = 0; r < reduce; r++) {
        const v = v128.load(p);
        const w = v128.load(p, 16);
        a0 = f64x2.add(a0, f64x2.promote_low_f32x4(v));
        a1 = f64x2.add(a1, f64x2.promote_low_f32x4(high(v)));
        a2 = f64x2.add(a2, f64x2.promote_low_f32x4(w));
        a3 = f64x2.add(a3, f64x2.promote_low_f32x4(high(w)));
        p += stride;
      }
      const q = out + ((<usize>i) << 2);
      v128.store(q, demote4(a0, a1));
      v128.store(q, demote4(a2, a3), 16);
    }
    if (i4 > i8) {
      let p = base + ((<usize>i8) << 2);
      let a0 = f64x2.splat(0);
      let a1 = f64x2.splat(0);
      for (let r = 0; r < reduce; r++) {
        const v = v128.load(p);
        a0 = f64x2.add(a0, f64x2.promote_low_f32x4(v));
        a1 = f64x2.add(a1, f64x2.promote_low_f32x4(high(v)));
        p += stride;
      }
      v128.store(out + ((<usize>i8) << 2), demote4(a0, a1));
    }
    for (let i = i4; i < inner; i++) {
      let p = base + ((<usize>i) << 2);
      let s: f64 = 0;
      for (let r = 0; r < reduce; r++) {
        s += <f64>load<f32>(p);
        p += stride;
      }
      store<f32>(out + ((<usize>i) << 2), <f32>s);
    }
  }
}

/** y[o, i] = sum over r of x[o, r, i] for x of shape [outer, reduce, inner], float64 accumulation. */
export function sumF32(x: usize, y: usize, outer: i32, reduce: i32, inner: i32): void {
  if (inner === 1) sumRows(x, y, outer, reduce);
  else sumColumns(x, y, outer, reduce, inner);
}

// ---- max and min --------------------------------------------------------------------------------
//
// As the TypeScript kernel: NaN when the reduced values hold one, else the largest (smallest)
// value, the first of equal ones (which only shows for ±0). Each lane keeps its first best value
// (`v > best` replaces, ties do not); lanes that reduced parts of one row cannot tell which of
// two zeros came first, so a row whose result is ±0 is scanned again in order.

@inline
function better(isMax: bool, v: v128, best: v128): v128 {
  return isMax ? f32x4.gt(v, best) : f32x4.lt(v, best);
}

@inline
function betterScalar(isMax: bool, v: f32, best: f32): bool {
  return isMax ? v > best : v < best;
}

/** The TypeScript kernel's loop over `count` floats `stride` bytes apart. */
@inline
function extremeScalar(isMax: bool, p: usize, count: i32, stride: usize): f32 {
  let best = load<f32>(p);
  for (let r = 1; r < count && best === best; r++) {
    p += stride;
    const v = load<f32>(p);
    if (v !== v || betterScalar(isMax, v, best)) best = v;
  }
  return best;
}

@inline
function extremeRows(isMax: bool, x: usize, y: usize, outer: i32, reduce: i32): void {
  const n8 = reduce & ~7;
  for (let o = 0; o < outer; o++) {
    const row = x + ((<usize>o * <usize>reduce) << 2);
    let best: f32;
    if (n8 === 0) {
      best = extremeScalar(isMax, row, reduce, 4);
    } else {
      let b0 = v128.load(row);
      let b1 = v128.load(row, 16);
      let nan = v128.or(f32x4.ne(b0, b0), f32x4.ne(b1, b1));
      let tailNaN = false;
      for (let r = 8; r < n8; r += 8) {
        const p = row + ((<usize>r) << 2);
        const v = v128.load(p);
        const w = v128.load(p, 16);
        b0 = sel(better(isMax, v, b0), v, b0);
        b1 = sel(better(isMax, w, b1), w, b1);
        nan = v128.or(nan, v128.or(f32x4.ne(v, v), f32x4.ne(w, w)));
      }
      b0 = sel(better(isMax, b1, b0), b1, b0);
      best = f32x4.extract_lane(b0, 0);
      const l1 = f32x4.extract_lane(b0, 1);
      const l2 = f32x4.extract_lane(b0, 2);
      const l3 = f32x4.extract_lane(b0, 3);
      if (betterScalar(isMax, l1, best)) best = l1;
      if (betterScalar(isMax, l2, best)) best = l2;
      if (betterScalar(isMax, l3, best)) best = l3;
      for (let r = n8; r < reduce; r++) {
        const v = load<f32>(row + ((<usize>r) << 2));
        if (v !== v) tailNaN = true;
        else if (betterScalar(isMax, v, best)) best = v;
      }
      if (tailNaN || v128.any_true(nan)) best = NaN;
      else if (best === 0) best = extremeScalar(isMax, row, reduce, 4);
    }
    store<f32>(y + ((<usize>o) << 2), best);
  }
}

@inline
function extremeColumns(isMax: bool, x: usize, y: usize, outer: i32, reduce: i32, inner: i32): void {
  const stride = (<usize>inner) << 2;
  const i4 = inner & ~3;
  for (let o = 0; o < outer; o++) {
    const base = x + ((<usize>o * <usize>reduce * <usize>inner) << 2);
    const out = y + ((<usize>o * <usize>inner) << 2);
    for (let i = 0; i < i4; i += 4) {
      let p = base + ((<usize>i) << 2);
      let best = v128.load(p);
      let nan = f32x4.ne(best, best);
      for (let r = 1; r < reduce; r++) {
        p += stride;
        const v = v128.load(p);
        best = sel(better(isMax, v, best), v, best);
        nan = v128.or(nan, f32x4.ne(v, v));
      }
      v128.store(out + ((<usize>i) << 2), sel(nan, splat(NaN), best));
    }
    for (let i = i4; i < inner; i++)
      store<f32>(out + ((<usize>i) << 2), extremeScalar(isMax, base + ((<usize>i) << 2), reduce, stride));
  }
}

/** y[o, i] = max (isMax) or min over r of x[o, r, i] for x of shape [outer, reduce >= 1, inner]. */
export function extremeF32(x: usize, y: usize, outer: i32, reduce: i32, inner: i32, isMax: i32): void {
  if (reduce < 1) return;
  if (inner === 1) {
    if (isMax) extremeRows(true, x, y, outer, reduce);
    else extremeRows(false, x, y, outer, reduce);
  } else if (isMax) extremeColumns(true, x, y, outer, reduce, inner);
  else extremeColumns(false, x, y, outer, reduce, inner);
}
