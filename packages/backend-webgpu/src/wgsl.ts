import type { DType } from "@minibatch/tensor";

/** The WGSL storage type of a dtype: bool is a u32 holding 0 or 1. */
export function wgslType(d: DType): "f32" | "i32" | "u32" {
  return d === "float32" ? "f32" : d === "int32" ? "i32" : "u32";
}

/** Kernel parameters: binding 0, 64 x i32 read as P(i) / U(i) / F(i) (floats are bit-cast). */
export const PRELUDE = /* wgsl */ `
struct Params { v: array<vec4<i32>, 16> }
@group(0) @binding(0) var<uniform> prm: Params;
fn P(i: u32) -> i32 { return prm.v[i >> 2u][i & 3u]; }
fn U(i: u32) -> u32 { return u32(prm.v[i >> 2u][i & 3u]); }
fn F(i: u32) -> f32 { return bitcast<f32>(prm.v[i >> 2u][i & 3u]); }
// By bits: WGSL lets compilers assume NaN never occurs in float arithmetic, not in integer ops.
fn isnan_(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
// Through a var: a constant NaN or infinity is a WGSL compile error.
fn nan_() -> f32 { var b = 0x7fc00000u; return bitcast<f32>(b); }
fn inf_() -> f32 { var b = 0x7f800000u; return bitcast<f32>(b); }
`;

/** Storage bindings after the parameters: inputs read-only, then outputs. */
export function bindings(inputs: readonly [string, string][], outputs: readonly [string, string][]): string {
  let b = 1;
  const lines: string[] = [];
  for (const [name, type] of inputs) {
    lines.push(`@group(0) @binding(${b++}) var<storage, read> ${name}: array<${type}>;`);
  }
  for (const [name, type] of outputs) {
    lines.push(`@group(0) @binding(${b++}) var<storage, read_write> ${name}: array<${type}>;`);
  }
  return lines.join("\n");
}

/** One thread per element, 256 per workgroup, the grid folded into 2-d past 65535 groups. */
export function elementwiseMain(body: string): string {
  return /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + li;
  if (i >= U(0u)) { return; }
${body}
}`;
}

/** Math helpers that WGSL lacks or leaves imprecise at the edges. */
export const MATH = /* wgsl */ `
// Edges spelled out: software drivers return finite values for log(0) and friends.
fn log_(x: f32) -> f32 {
  if (x == 0.0) { return -inf_(); }
  if (x < 0.0) { return nan_(); }
  if (x == inf_()) { return x; }
  return log(x);
}
// log1p and expm1 by Kahan's correction: the rounding of 1 + x (or of exp(x)) cancels out.
fn log1p_(x: f32) -> f32 {
  if (x == -1.0) { return -inf_(); }
  if (x < -1.0) { return nan_(); }
  if (x == inf_()) { return x; }
  let u = 1.0 + x;
  if (u == 1.0) { return x; }
  return log(u) * x / (u - 1.0);
}
fn expm1_(x: f32) -> f32 {
  if (x == -inf_()) { return -1.0; }
  if (x > 88.7) { return inf_(); }
  let u = exp(x);
  if (u == 1.0) { return x; }
  let um1 = u - 1.0;
  if (um1 == -1.0) { return -1.0; }
  return um1 * x / log(u);
}
fn sqrt_(x: f32) -> f32 {
  if (x < 0.0) { return nan_(); }
  if (x == 0.0 || x == inf_()) { return x; }
  return sqrt(x);
}
fn exp_(x: f32) -> f32 {
  if (x == -inf_()) { return 0.0; }
  if (x == inf_()) { return x; }
  return exp(x);
}
fn sigmoid_(x: f32) -> f32 {
  // exp of a non-positive argument never overflows
  let e = exp(-abs(x));
  let r = 1.0 / (1.0 + e);
  return select(e * r, r, x >= 0.0);
}
fn tanh_(x: f32) -> f32 {
  // Own tanh: some drivers' builtin loses relative precision near 0 or overflows for large |x|.
  let a = abs(x);
  var r: f32;
  if (a < 0.5) {
    let z = x * x;
    r = x * (1.0 + z * (-0.33333333333 + z * (0.13333333333 + z * (-0.05396825397 + z * (0.02186948854 +
      z * (-0.00886323552 + z * (0.00359212803 + z * -0.00145583438)))))));
  } else {
    let t = exp(-2.0 * min(a, 20.0));
    r = sign(x) * (1.0 - t) / (1.0 + t);
  }
  return select(r, x, isnan_(x));
}
// erfc(z) for z >= 0 with fractional error below 1.2e-7 (a Chebyshev fit of Numerical Recipes).
fn erfc_pos(z: f32) -> f32 {
  let t = 1.0 / (1.0 + 0.5 * z);
  let p = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  return t * exp(p);
}
fn gelu_(x: f32) -> f32 {
  if (isnan_(x)) { return x; }
  // 1 + erf(z) as 2 - erfc(z) or erfc(-z): no cancellation in the negative tail.
  let z = x * 0.70710678118654752;
  let onePlusErf = select(erfc_pos(-z), 2.0 - erfc_pos(z), z >= 0.0);
  return 0.5 * x * onePlusErf;
}
fn isOddInt(b: f32) -> bool {
  return b - 2.0 * floor(b * 0.5) == 1.0;
}
// Math.pow semantics (JavaScript), which differ from WGSL's pow for x <= 0 and at the edges.
fn pow_(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return 1.0; }
  if (isnan_(a) || isnan_(b)) { return nan_(); }
  if (floor(b) == b && abs(b) <= 32.0) {
    // small integer exponent: repeated squaring is exact to a few ulp and keeps signs
    var e = u32(abs(b));
    var base = a;
    var r = 1.0;
    loop {
      if ((e & 1u) != 0u) { r = r * base; }
      e = e >> 1u;
      if (e == 0u) { break; }
      base = base * base;
    }
    return select(r, 1.0 / r, b < 0.0);
  }
  let ab = abs(a);
  let binf = abs(b) == inf_();
  if (binf && ab == 1.0) { return nan_(); }
  if (a == 0.0) {
    let odd = !binf && isOddInt(b);
    if (b > 0.0) { return select(0.0, a, odd); }
    return select(inf_(), 1.0 / a, odd);
  }
  if (a == -inf_()) {
    let odd = !binf && isOddInt(b);
    if (b > 0.0) { return select(inf_(), a, odd); }
    return select(0.0, -0.0, odd);
  }
  if (a < 0.0 && floor(b) != b) { return nan_(); }
  var r: f32;
  if (b == 0.5) { r = sqrt(ab); } else { r = exp2(b * log2(ab)); }
  if (a < 0.0 && !binf && isOddInt(b)) { r = -r; }
  return r;
}
`;
