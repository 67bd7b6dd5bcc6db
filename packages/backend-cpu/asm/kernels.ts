// WebAssembly SIMD kernels for @minibatch/backend-cpu, in AssemblyScript.
//
// The JavaScript side owns the linear memory: its heap (src/wasm/heap.ts) places large tensors
// and temporary blocks in it and passes byte offsets here, so there is no allocator in this module
// (runtime "stub") and a kernel never grows memory. All matrices are row-major float32.
//
// The memory is imported and shared: worker threads (src/wasm/pool.ts) instantiate this module
// over the same memory to split matrix products. The module has no data segments, no memory
// stack and no state in memory, so instances share nothing but what the JS side passes them;
// each thread gets its own scratch block.

// ---- matrix product ---------------------------------------------------------------------------
//
// Classic packed GEMM: a KC x NC block of op(B) is packed into panels of NR columns, an MC x KC
// block of op(A) into panels of MR rows, and a register-blocked MR x NR micro-kernel streams both
// panels. Packing makes the micro-kernel's loads contiguous whatever the transposes are, and the
// zero padding of the last panels lets the micro-kernel always compute a full tile.

const MR: i32 = 5;
const NR: i32 = 8;
// 5 x 8 accumulators (10 vectors) plus 2 B vectors and 1 splat = 13 of the 15 x86 SIMD registers
// V8 allocates: the most that stays spill free (6 x 8 spills and runs ~25% slower than 4 x 8;
// 5 x 8 runs ~10% faster than 4 x 8, with 10 multiply-adds per 7 loads instead of 8 per 6).
// Unrolling the k loop was measured slower too (V8 then keeps more values live).
const KC: i32 = 256; // KC x NR panel of B = 8 KiB: stays in L1 across the MC rows
const MC: i32 = 80; // MC x KC block of A = 80 KiB: stays in L2
const NC: i32 = 1024; // KC x NC block of B = 1 MiB
const EDGE: i32 = MR * NR; // floats of the edge tile buffer

/** Scratch bytes the JS side must reserve for gemm (packed A block + B block + edge tile). */
export function gemmScratchBytes(): i32 {
  return (MC * KC + KC * NC + EDGE) << 2;
}

/**
 * Stores the 4 x 4 block with rows r0 .. r3 transposed: column q of the block (r0[q] .. r3[q])
 * at d + q * stride bytes.
 */
@inline
function transpose4(r0: v128, r1: v128, r2: v128, r3: v128, d: usize, stride: i32): void {
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
  const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  const s = <usize>stride;
  v128.store(d, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
  v128.store(d + s, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
  v128.store(d + 2 * s, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5));
  v128.store(d + 3 * s, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7));
}

/** Packs op(A)[i0 .. i0+mc, p0 .. p0+kc] into panels dst[panel][p][MR] (zero padded). */
function packA(a: usize, trans: bool, lda: i32, i0: i32, mc: i32, p0: i32, kc: i32, dst: usize): void {
  for (let ir = 0; ir < mc; ir += MR) {
    const rows = min(MR, mc - ir);
    const panel = dst + ((<usize>(ir * kc)) << 2);
    if (trans) {
      // A is stored [k, m]: the MR values of one k are contiguous.
      for (let p = 0; p < kc; p++) {
        const src = a + ((<usize>((p0 + p) * lda + i0 + ir)) << 2);
        const d = panel + ((<usize>(p * MR)) << 2);
        if (rows === MR) {
          v128.store(d, v128.load(src));
          store<f32>(d, load<f32>(src, 16), 16);
        } else {
          for (let r = 0; r < MR; r++)
            store<f32>(d + ((<usize>r) << 2), r < rows ? load<f32>(src + ((<usize>r) << 2)) : 0);
        }
      }
    } else if (rows === MR) {
      // A is stored [m, k]: four k of five rows at a time, the first four rows transposed in
      // registers (four vector stores) and the fifth stored lane by lane. Scalar copies here cost
      // as much as the multiply-adds for the small-batch products of a training step.
      const src = a + ((<usize>((i0 + ir) * lda + p0)) << 2);
      const rs = (<usize>lda) << 2;
      const kv = kc & ~3;
      for (let p = 0; p < kv; p += 4) {
        const s = src + ((<usize>p) << 2);
        const r4 = v128.load(s + 4 * rs);
        const d = panel + ((<usize>(p * MR)) << 2);
        transpose4(v128.load(s), v128.load(s + rs), v128.load(s + 2 * rs), v128.load(s + 3 * rs), d, MR << 2);
        store<f32>(d, f32x4.extract_lane(r4, 0), 16);
        store<f32>(d, f32x4.extract_lane(r4, 1), 36);
        store<f32>(d, f32x4.extract_lane(r4, 2), 56);
        store<f32>(d, f32x4.extract_lane(r4, 3), 76);
      }
      for (let p = kv; p < kc; p++) {
        const d = panel + ((<usize>(p * MR)) << 2);
        for (let r = 0; r < MR; r++) store<f32>(d + ((<usize>r) << 2), load<f32>(src + <usize>r * rs + ((<usize>p) << 2)));
      }
    } else {
      for (let r = 0; r < MR; r++) {
        const d = panel + ((<usize>r) << 2);
        if (r < rows) {
          const src = a + ((<usize>((i0 + ir + r) * lda + p0)) << 2);
          for (let p = 0; p < kc; p++)
            store<f32>(d + ((<usize>(p * MR)) << 2), load<f32>(src + ((<usize>p) << 2)));
        } else {
          for (let p = 0; p < kc; p++) store<f32>(d + ((<usize>(p * MR)) << 2), 0);
        }
      }
    }
  }
}

/** Packs op(B)[p0 .. p0+kc, j0 .. j0+nc] into panels dst[panel][p][NR] (zero padded). */
function packB(b: usize, trans: bool, ldb: i32, p0: i32, kc: i32, j0: i32, nc: i32, dst: usize): void {
  for (let jr = 0; jr < nc; jr += NR) {
    const cols = min(NR, nc - jr);
    const panel = dst + ((<usize>(jr * kc)) << 2);
    if (!trans) {
      for (let p = 0; p < kc; p++) {
        const src = b + ((<usize>((p0 + p) * ldb + j0 + jr)) << 2);
        const d = panel + ((<usize>(p * NR)) << 2);
        if (cols === NR) {
          v128.store(d, v128.load(src));
          v128.store(d, v128.load(src, 16), 16);
        } else {
          for (let j = 0; j < NR; j++)
            store<f32>(d + ((<usize>j) << 2), j < cols ? load<f32>(src + ((<usize>j) << 2)) : 0);
        }
      }
    } else if (cols === NR) {
      // B is stored [n, k]: four k of four columns at a time, transposed in registers (the
      // forward product of a Linear layer, x @ W^T, packs all of W this way).
      const src = b + ((<usize>((j0 + jr) * ldb + p0)) << 2);
      const rs = (<usize>ldb) << 2;
      const kv = kc & ~3;
      for (let p = 0; p < kv; p += 4) {
        const s = src + ((<usize>p) << 2);
        const d = panel + ((<usize>(p * NR)) << 2);
        transpose4(v128.load(s), v128.load(s + rs), v128.load(s + 2 * rs), v128.load(s + 3 * rs), d, NR << 2);
        const s4 = s + 4 * rs;
        transpose4(v128.load(s4), v128.load(s4 + rs), v128.load(s4 + 2 * rs), v128.load(s4 + 3 * rs), d + 16, NR << 2);
      }
      for (let p = kv; p < kc; p++) {
        const d = panel + ((<usize>(p * NR)) << 2);
        for (let j = 0; j < NR; j++) store<f32>(d + ((<usize>j) << 2), load<f32>(src + <usize>j * rs + ((<usize>p) << 2)));
      }
    } else {
      // B is stored [n, k], a last panel narrower than NR: walk each stored row contiguously.
      for (let j = 0; j < NR; j++) {
        const d = panel + ((<usize>j) << 2);
        if (j < cols) {
          const src = b + ((<usize>((j0 + jr + j) * ldb + p0)) << 2);
          for (let p = 0; p < kc; p++)
            store<f32>(d + ((<usize>(p * NR)) << 2), load<f32>(src + ((<usize>p) << 2)));
        } else {
          for (let p = 0; p < kc; p++) store<f32>(d + ((<usize>(p * NR)) << 2), 0);
        }
      }
    }
  }
}

/**
 * c + a * b per lane. The relaxed build (scripts/build-wasm.mjs compiles this file twice) uses
 * `f32x4.relaxed_madd`, a fused multiply-add where the CPU has one (one rounding instead of two,
 * so its results differ from the plain build's in the last bits); the plain build multiplies, then
 * adds. Either way every element of C is summed in the same order, whatever the blocking.
 */
function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

/**
 * C[0..rows, 0..cols] (+)= Apanel (kc x MR) x Bpanel (kc x NR). A full tile is stored straight
 * from the registers; an edge tile goes through `edge` so no padding is written into C.
 */
function micro(
  kc: i32,
  ap: usize,
  bp: usize,
  c: usize,
  ldc: i32,
  acc: bool,
  rows: i32,
  cols: i32,
  edge: usize,
): void {
  let c00 = f32x4.splat(0);
  let c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0);
  let c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0);
  let c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0);
  let c31 = f32x4.splat(0);
  let c40 = f32x4.splat(0);
  let c41 = f32x4.splat(0);
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    const a0 = v128.load32_splat(ap);
    c00 = madd(a0, b0, c00);
    c01 = madd(a0, b1, c01);
    const a1 = v128.load32_splat(ap, 4);
    c10 = madd(a1, b0, c10);
    c11 = madd(a1, b1, c11);
    const a2 = v128.load32_splat(ap, 8);
    c20 = madd(a2, b0, c20);
    c21 = madd(a2, b1, c21);
    const a3 = v128.load32_splat(ap, 12);
    c30 = madd(a3, b0, c30);
    c31 = madd(a3, b1, c31);
    const a4 = v128.load32_splat(ap, 16);
    c40 = madd(a4, b0, c40);
    c41 = madd(a4, b1, c41);
    ap += 20;
    bp += 32;
  }
  const rs = (<usize>ldc) << 2;
  if (rows === MR && cols === NR) {
    if (acc) {
      c00 = f32x4.add(c00, v128.load(c));
      c01 = f32x4.add(c01, v128.load(c, 16));
      c10 = f32x4.add(c10, v128.load(c + rs));
      c11 = f32x4.add(c11, v128.load(c + rs, 16));
      c20 = f32x4.add(c20, v128.load(c + 2 * rs));
      c21 = f32x4.add(c21, v128.load(c + 2 * rs, 16));
      c30 = f32x4.add(c30, v128.load(c + 3 * rs));
      c31 = f32x4.add(c31, v128.load(c + 3 * rs, 16));
      c40 = f32x4.add(c40, v128.load(c + 4 * rs));
      c41 = f32x4.add(c41, v128.load(c + 4 * rs, 16));
    }
    v128.store(c, c00);
    v128.store(c, c01, 16);
    v128.store(c + rs, c10);
    v128.store(c + rs, c11, 16);
    v128.store(c + 2 * rs, c20);
    v128.store(c + 2 * rs, c21, 16);
    v128.store(c + 3 * rs, c30);
    v128.store(c + 3 * rs, c31, 16);
    v128.store(c + 4 * rs, c40);
    v128.store(c + 4 * rs, c41, 16);
    return;
  }
  v128.store(edge, c00);
  v128.store(edge, c01, 16);
  v128.store(edge, c10, 32);
  v128.store(edge, c11, 48);
  v128.store(edge, c20, 64);
  v128.store(edge, c21, 80);
  v128.store(edge, c30, 96);
  v128.store(edge, c31, 112);
  v128.store(edge, c40, 128);
  v128.store(edge, c41, 144);
  for (let r = 0; r < rows; r++) {
    const row = c + <usize>r * rs;
    for (let j = 0; j < cols; j++) {
      const v = load<f32>(edge + ((<usize>(r * NR + j)) << 2));
      const dst = row + ((<usize>j) << 2);
      store<f32>(dst, acc ? load<f32>(dst) + v : v);
    }
  }
}

/**
 * C (m x n) = op(A) (m x k) x op(B) (k x n), for `batch` products; an operand with batch 1 is
 * broadcast. `scratch` holds gemmScratchBytes() bytes.
 */
export function gemm(
  a: usize,
  b: usize,
  c: usize,
  batch: i32,
  batchA: i32,
  batchB: i32,
  m: i32,
  n: i32,
  k: i32,
  transA: bool,
  transB: bool,
  scratch: usize,
): void {
  gemmPart(a, b, c, batch, batchA, batchB, m, n, k, transA, transB, scratch, 0, batch, 0, m, 0, n);
}

/**
 * The part of `gemm` that writes products q0 .. q1, rows i0 .. i1 and columns j0 .. j1 of C, for
 * the worker threads (src/wasm/pool.ts), each with its own `scratch`. Every element of C is summed
 * in the same order whatever the part boundaries (k is blocked the same way, and a tile's lanes do
 * not depend on where the tile starts), so a product split across threads is bit for bit the same
 * as on one thread.
 */
export function gemmPart(
  a: usize,
  b: usize,
  c: usize,
  batch: i32,
  batchA: i32,
  batchB: i32,
  m: i32,
  n: i32,
  k: i32,
  transA: bool,
  transB: bool,
  scratch: usize,
  q0: i32,
  q1: i32,
  i0: i32,
  i1: i32,
  j0: i32,
  j1: i32,
): void {
  const lda = transA ? m : k;
  const ldb = transB ? k : n;
  const abuf = scratch;
  const bbuf = scratch + ((<usize>(MC * KC)) << 2);
  const edge = bbuf + ((<usize>(KC * NC)) << 2);
  for (let q = q0; q < q1; q++) {
    const aq = a + ((<usize>(batchA === 1 ? 0 : q) * <usize>m * <usize>k) << 2);
    const bq = b + ((<usize>(batchB === 1 ? 0 : q) * <usize>k * <usize>n) << 2);
    const cq = c + ((<usize>q * <usize>m * <usize>n) << 2);
    if (k === 0) {
      for (let i = i0; i < i1; i++)
        memory.fill(cq + ((<usize>i * <usize>n + <usize>j0) << 2), 0, (<usize>(j1 - j0)) << 2);
      continue;
    }
    for (let jc = j0; jc < j1; jc += NC) {
      const nc = min(NC, j1 - jc);
      for (let pc = 0; pc < k; pc += KC) {
        const kc = min(KC, k - pc);
        packB(bq, transB, ldb, pc, kc, jc, nc, bbuf);
        for (let ic = i0; ic < i1; ic += MC) {
          const mc = min(MC, i1 - ic);
          packA(aq, transA, lda, ic, mc, pc, kc, abuf);
          for (let jr = 0; jr < nc; jr += NR) {
            const bp = bbuf + ((<usize>(jr * kc)) << 2);
            const cols = min(NR, nc - jr);
            for (let ir = 0; ir < mc; ir += MR) {
              const cp = cq + ((<usize>((ic + ir) * n + jc + jr)) << 2);
              micro(kc, abuf + ((<usize>(ir * kc)) << 2), bp, cp, n, pc > 0, min(MR, mc - ir), cols, edge);
            }
          }
        }
      }
    }
  }
}

// ---- batch normalization ----------------------------------------------------------------------
//
// x is seen as [outer, C, inner]; statistics are per channel over outer * inner values. Sums are
// taken in float64 (f64x2 lanes) around a per-channel shift, the channel's first value, so that
// a large mean does not cancel the variance. Features-last input (inner = 1) is vectorized across
// channels, row by row, so memory is walked once in order; otherwise each contiguous run of
// `inner` values of one channel is vectorized, summed in f32 lanes within the run and added into
// the f64 sums after each run (the f64 lanes cost twice the instructions per value, and per-run f32
// sums of shifted values lose nothing a float32 result would show).

function hi2(v: v128): v128 {
  return v128.shuffle<f32>(v, v, 2, 3, 0, 1);
}

/**
 * Per-channel float64 sums of (x - shift) and (x - shift)^2 into s1[C], s2[C] (f64 at `s`,
 * `s + 8C`), shift read from `sh` (f32 [C]).
 */
function channelSums(x: usize, outer: i32, C: i32, inner: i32, sh: usize, s: usize): void {
  const s2 = s + ((<usize>C) << 3);
  memory.fill(s, 0, (<usize>C) << 4);
  if (inner === 1) {
    const cv = C & ~3;
    for (let o = 0; o < outer; o++) {
      const row = x + ((<usize>(o * C)) << 2);
      for (let c = 0; c < cv; c += 4) {
        const d = f32x4.sub(v128.load(row + ((<usize>c) << 2)), v128.load(sh + ((<usize>c) << 2)));
        const lo = f64x2.promote_low_f32x4(d);
        const hi = f64x2.promote_low_f32x4(hi2(d));
        const p1 = s + ((<usize>c) << 3);
        const p2 = s2 + ((<usize>c) << 3);
        v128.store(p1, f64x2.add(v128.load(p1), lo));
        v128.store(p1, f64x2.add(v128.load(p1, 16), hi), 16);
        v128.store(p2, f64x2.add(v128.load(p2), f64x2.mul(lo, lo)));
        v128.store(p2, f64x2.add(v128.load(p2, 16), f64x2.mul(hi, hi)), 16);
      }
      for (let c = cv; c < C; c++) {
        const d = <f64>load<f32>(row + ((<usize>c) << 2)) - <f64>load<f32>(sh + ((<usize>c) << 2));
        const p1 = s + ((<usize>c) << 3);
        const p2 = s2 + ((<usize>c) << 3);
        store<f64>(p1, load<f64>(p1) + d);
        store<f64>(p2, load<f64>(p2) + d * d);
      }
    }
    return;
  }
  const iv = inner & ~3;
  for (let c = 0; c < C; c++) {
    const shf = load<f32>(sh + ((<usize>c) << 2));
    const shv = f32x4.splat(shf);
    let a1 = f64x2.splat(0);
    let b1 = f64x2.splat(0);
    let a2 = f64x2.splat(0);
    let b2 = f64x2.splat(0);
    let t1: f64 = 0;
    let t2: f64 = 0;
    for (let o = 0; o < outer; o++) {
      const run = x + ((<usize>((o * C + c) * inner)) << 2);
      // f32 lanes within one run (the values are shifted, so they are small and of both signs),
      // added into the f64 sums after it: half the work of f64 lanes, about f32 rounding per run.
      let r1 = f32x4.splat(0);
      let r2 = f32x4.splat(0);
      for (let i = 0; i < iv; i += 4) {
        const d = f32x4.sub(v128.load(run + ((<usize>i) << 2)), shv);
        r1 = f32x4.add(r1, d);
        r2 = f32x4.add(r2, f32x4.mul(d, d));
      }
      a1 = f64x2.add(a1, f64x2.promote_low_f32x4(r1));
      b1 = f64x2.add(b1, f64x2.promote_low_f32x4(hi2(r1)));
      a2 = f64x2.add(a2, f64x2.promote_low_f32x4(r2));
      b2 = f64x2.add(b2, f64x2.promote_low_f32x4(hi2(r2)));
      for (let i = iv; i < inner; i++) {
        const d = <f64>load<f32>(run + ((<usize>i) << 2)) - <f64>shf;
        t1 += d;
        t2 += d * d;
      }
    }
    const v1 = f64x2.add(a1, b1);
    const v2 = f64x2.add(a2, b2);
    store<f64>(s + ((<usize>c) << 3), f64x2.extract_lane(v1, 0) + f64x2.extract_lane(v1, 1) + t1);
    store<f64>(s2 + ((<usize>c) << 3), f64x2.extract_lane(v2, 0) + f64x2.extract_lane(v2, 1) + t2);
  }
}

/** out[c] = (in[c] - m[c]) * k[c] + b[c] over [outer, C, inner], with per-channel f32 m, k, b. */
function affine(src: usize, dst: usize, outer: i32, C: i32, inner: i32, m: usize, k: usize, b: usize): void {
  if (inner === 1) {
    const cv = C & ~3;
    for (let o = 0; o < outer; o++) {
      const off = (<usize>(o * C)) << 2;
      for (let c = 0; c < cv; c += 4) {
        const co = (<usize>c) << 2;
        const v = f32x4.mul(f32x4.sub(v128.load(src + off + co), v128.load(m + co)), v128.load(k + co));
        v128.store(dst + off + co, f32x4.add(v, v128.load(b + co)));
      }
      for (let c = cv; c < C; c++) {
        const co = (<usize>c) << 2;
        store<f32>(
          dst + off + co,
          (load<f32>(src + off + co) - load<f32>(m + co)) * load<f32>(k + co) + load<f32>(b + co),
        );
      }
    }
    return;
  }
  const iv = inner & ~3;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < C; c++) {
      const co = (<usize>c) << 2;
      const ms = load<f32>(m + co);
      const ks = load<f32>(k + co);
      const bs = load<f32>(b + co);
      const mv = f32x4.splat(ms);
      const kv = f32x4.splat(ks);
      const bv = f32x4.splat(bs);
      const off = (<usize>((o * C + c) * inner)) << 2;
      for (let i = 0; i < iv; i += 4) {
        const io = off + ((<usize>i) << 2);
        v128.store(dst + io, f32x4.add(f32x4.mul(f32x4.sub(v128.load(src + io), mv), kv), bv));
      }
      for (let i = iv; i < inner; i++) {
        const io = off + ((<usize>i) << 2);
        store<f32>(dst + io, (load<f32>(src + io) - ms) * ks + bs);
      }
    }
  }
}

/**
 * Forward: y, mean, invstd, unbiased var. Scratch: 16C bytes of f64 sums + 8C bytes (f32 shift and
 * scale).
 */
export function batchNormTrain(
  x: usize,
  gamma: usize,
  beta: usize,
  y: usize,
  mean: usize,
  invstd: usize,
  varU: usize,
  outer: i32,
  C: i32,
  inner: i32,
  eps: f64,
  scratch: usize,
): void {
  const n = <f64>outer * <f64>inner;
  const s = scratch;
  const sh = scratch + ((<usize>C) << 4);
  const scale = sh + ((<usize>C) << 2);
  for (let c = 0; c < C; c++) store<f32>(sh + ((<usize>c) << 2), load<f32>(x + ((<usize>(c * inner)) << 2)));
  channelSums(x, outer, C, inner, sh, s);
  for (let c = 0; c < C; c++) {
    const s1 = load<f64>(s + ((<usize>c) << 3));
    const s2 = load<f64>(s + ((<usize>(C + c)) << 3));
    const dm = s1 / n;
    const m2 = max(0, s2 - s1 * dm);
    const mu = <f64>load<f32>(sh + ((<usize>c) << 2)) + dm;
    const is = 1 / Math.sqrt(m2 / n + eps);
    store<f32>(mean + ((<usize>c) << 2), <f32>mu);
    store<f32>(invstd + ((<usize>c) << 2), <f32>is);
    store<f32>(varU + ((<usize>c) << 2), n > 1 ? <f32>(m2 / (n - 1)) : NaN);
    store<f32>(scale + ((<usize>c) << 2), <f32>(<f64>load<f32>(gamma + ((<usize>c) << 2)) * is));
  }
  affine(x, y, outer, C, inner, mean, scale, beta);
}

/**
 * Backward from the closed form dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)),
 * dgamma = sum(dy * xhat), dbeta = sum(dy). Scratch: 16C bytes of f64 sums + 12C bytes of f32.
 */
export function batchNormGrad(
  dy: usize,
  x: usize,
  gamma: usize,
  mean: usize,
  invstd: usize,
  dx: usize,
  dgamma: usize,
  dbeta: usize,
  outer: i32,
  C: i32,
  inner: i32,
  scratch: usize,
): void {
  const n = <f64>outer * <f64>inner;
  const sdy = scratch;
  const sdyx = scratch + ((<usize>C) << 3);
  const ka = sdyx + ((<usize>C) << 3); // gamma * invstd
  const kb = ka + ((<usize>C) << 2); // gamma * invstd * invstd * mean(dy * xhat)
  const kc = kb + ((<usize>C) << 2); // gamma * invstd * mean(dy)
  memory.fill(sdy, 0, (<usize>C) << 4);
  if (inner === 1) {
    const cv = C & ~3;
    for (let o = 0; o < outer; o++) {
      const off = (<usize>(o * C)) << 2;
      for (let c = 0; c < cv; c += 4) {
        const co = (<usize>c) << 2;
        const g = v128.load(dy + off + co);
        const xm = f32x4.sub(v128.load(x + off + co), v128.load(mean + co));
        const glo = f64x2.promote_low_f32x4(g);
        const ghi = f64x2.promote_low_f32x4(hi2(g));
        const p1 = sdy + ((<usize>c) << 3);
        const p2 = sdyx + ((<usize>c) << 3);
        v128.store(p1, f64x2.add(v128.load(p1), glo));
        v128.store(p1, f64x2.add(v128.load(p1, 16), ghi), 16);
        v128.store(p2, f64x2.add(v128.load(p2), f64x2.mul(glo, f64x2.promote_low_f32x4(xm))));
        v128.store(p2, f64x2.add(v128.load(p2, 16), f64x2.mul(ghi, f64x2.promote_low_f32x4(hi2(xm)))), 16);
      }
      for (let c = cv; c < C; c++) {
        const co = (<usize>c) << 2;
        const g = <f64>load<f32>(dy + off + co);
        const p1 = sdy + ((<usize>c) << 3);
        const p2 = sdyx + ((<usize>c) << 3);
        store<f64>(p1, load<f64>(p1) + g);
        store<f64>(p2, load<f64>(p2) + g * <f64>(load<f32>(x + off + co) - load<f32>(mean + co)));
      }
    }
  } else {
    const iv = inner & ~3;
    for (let c = 0; c < C; c++) {
      const mf = load<f32>(mean + ((<usize>c) << 2));
      const mv = f32x4.splat(mf);
      let a1 = f64x2.splat(0);
      let b1 = f64x2.splat(0);
      let a2 = f64x2.splat(0);
      let b2 = f64x2.splat(0);
      let t1: f64 = 0;
      let t2: f64 = 0;
      for (let o = 0; o < outer; o++) {
        const off = (<usize>((o * C + c) * inner)) << 2;
        // f32 lanes within one run, added into the f64 sums after it (as in channelSums).
        let r1 = f32x4.splat(0);
        let r2 = f32x4.splat(0);
        for (let i = 0; i < iv; i += 4) {
          const io = off + ((<usize>i) << 2);
          const g = v128.load(dy + io);
          r1 = f32x4.add(r1, g);
          r2 = f32x4.add(r2, f32x4.mul(g, f32x4.sub(v128.load(x + io), mv)));
        }
        a1 = f64x2.add(a1, f64x2.promote_low_f32x4(r1));
        b1 = f64x2.add(b1, f64x2.promote_low_f32x4(hi2(r1)));
        a2 = f64x2.add(a2, f64x2.promote_low_f32x4(r2));
        b2 = f64x2.add(b2, f64x2.promote_low_f32x4(hi2(r2)));
        for (let i = iv; i < inner; i++) {
          const io = off + ((<usize>i) << 2);
          const g = <f64>load<f32>(dy + io);
          t1 += g;
          t2 += g * <f64>(load<f32>(x + io) - mf);
        }
      }
      const v1 = f64x2.add(a1, b1);
      const v2 = f64x2.add(a2, b2);
      store<f64>(sdy + ((<usize>c) << 3), f64x2.extract_lane(v1, 0) + f64x2.extract_lane(v1, 1) + t1);
      store<f64>(sdyx + ((<usize>c) << 3), f64x2.extract_lane(v2, 0) + f64x2.extract_lane(v2, 1) + t2);
    }
  }
  for (let c = 0; c < C; c++) {
    const co = (<usize>c) << 2;
    const is = <f64>load<f32>(invstd + co);
    const sd = load<f64>(sdy + ((<usize>c) << 3));
    const sx = load<f64>(sdyx + ((<usize>c) << 3)) * is; // sum(dy * xhat)
    store<f32>(dbeta + co, <f32>sd);
    store<f32>(dgamma + co, <f32>sx);
    const k = <f64>load<f32>(gamma + co) * is;
    store<f32>(ka + co, <f32>k);
    store<f32>(kb + co, <f32>((k * is * sx) / n));
    store<f32>(kc + co, <f32>((k * sd) / n));
  }
  // dx = ka * dy - kc - kb * (x - mean)
  if (inner === 1) {
    const cv = C & ~3;
    for (let o = 0; o < outer; o++) {
      const off = (<usize>(o * C)) << 2;
      for (let c = 0; c < cv; c += 4) {
        const co = (<usize>c) << 2;
        const xm = f32x4.sub(v128.load(x + off + co), v128.load(mean + co));
        const t = f32x4.sub(f32x4.mul(v128.load(ka + co), v128.load(dy + off + co)), v128.load(kc + co));
        v128.store(dx + off + co, f32x4.sub(t, f32x4.mul(v128.load(kb + co), xm)));
      }
      for (let c = cv; c < C; c++) {
        const co = (<usize>c) << 2;
        const xm = load<f32>(x + off + co) - load<f32>(mean + co);
        store<f32>(
          dx + off + co,
          load<f32>(ka + co) * load<f32>(dy + off + co) - load<f32>(kc + co) - load<f32>(kb + co) * xm,
        );
      }
    }
    return;
  }
  const iv = inner & ~3;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < C; c++) {
      const co = (<usize>c) << 2;
      const mf = load<f32>(mean + co);
      const af = load<f32>(ka + co);
      const bf = load<f32>(kb + co);
      const cf = load<f32>(kc + co);
      const mv = f32x4.splat(mf);
      const av = f32x4.splat(af);
      const bv = f32x4.splat(bf);
      const cvv = f32x4.splat(cf);
      const off = (<usize>((o * C + c) * inner)) << 2;
      for (let i = 0; i < iv; i += 4) {
        const io = off + ((<usize>i) << 2);
        const xm = f32x4.sub(v128.load(x + io), mv);
        const t = f32x4.sub(f32x4.mul(av, v128.load(dy + io)), cvv);
        v128.store(dx + io, f32x4.sub(t, f32x4.mul(bv, xm)));
      }
      for (let i = iv; i < inner; i++) {
        const io = off + ((<usize>i) << 2);
        store<f32>(dx + io, af * load<f32>(dy + io) - cf - bf * (load<f32>(x + io) - mf));
      }
    }
  }
}

// ---- elementwise float32 arithmetic -----------------------------------------------------------
//
// y = a op b over n floats, op 0 add, 1 sub, 2 mul, 3 div; aScalar / bScalar make that operand one
// float broadcast to all n (a stride-0 operand). f32x4 results equal the scalar JavaScript loop's
// (an f32 op computed in f64 and rounded to f32 gives the correctly rounded f32 result).

@inline
function apply4(op: i32, p: v128, q: v128): v128 {
  if (op === 0) return f32x4.add(p, q);
  if (op === 1) return f32x4.sub(p, q);
  if (op === 2) return f32x4.mul(p, q);
  return f32x4.div(p, q);
}

@inline
function apply1(op: i32, p: f32, q: f32): f32 {
  if (op === 0) return p + q;
  if (op === 1) return p - q;
  if (op === 2) return p * q;
  return p / q;
}

// Inlined into each call site of binaryF32 with constant op / scalar flags, so that Binaryen folds
// the branches out of the loop.
@inline
function binaryLoop(op: i32, a: usize, b: usize, y: usize, n: i32, aScalar: bool, bScalar: bool): void {
  const nv = n & ~3;
  const as = load<f32>(a);
  const bs = load<f32>(b);
  const av = f32x4.splat(as);
  const bv = f32x4.splat(bs);
  for (let i = 0; i < nv; i += 4) {
    const o = (<usize>i) << 2;
    const p = aScalar ? av : v128.load(a + o);
    const q = bScalar ? bv : v128.load(b + o);
    v128.store(y + o, apply4(op, p, q));
  }
  for (let i = nv; i < n; i++) {
    const o = (<usize>i) << 2;
    store<f32>(y + o, apply1(op, aScalar ? as : load<f32>(a + o), bScalar ? bs : load<f32>(b + o)));
  }
}

export function binaryF32(op: i32, a: usize, b: usize, y: usize, n: i32, aScalar: i32, bScalar: i32): void {
  // One specialised loop per (op, operand kind) so that the branches leave the inner loop.
  const sa = aScalar !== 0;
  const sb = bScalar !== 0;
  if (op === 0) {
    if (sb) binaryLoop(0, a, b, y, n, false, true);
    else if (sa) binaryLoop(0, a, b, y, n, true, false);
    else binaryLoop(0, a, b, y, n, false, false);
  } else if (op === 1) {
    if (sb) binaryLoop(1, a, b, y, n, false, true);
    else if (sa) binaryLoop(1, a, b, y, n, true, false);
    else binaryLoop(1, a, b, y, n, false, false);
  } else if (op === 2) {
    if (sb) binaryLoop(2, a, b, y, n, false, true);
    else if (sa) binaryLoop(2, a, b, y, n, true, false);
    else binaryLoop(2, a, b, y, n, false, false);
  } else {
    if (sb) binaryLoop(3, a, b, y, n, false, true);
    else if (sa) binaryLoop(3, a, b, y, n, true, false);
    else binaryLoop(3, a, b, y, n, false, false);
  }
}

export * from "./elementwise";

/** First free byte after this module's static data: the JS side allocates from here. */
export function heapBase(): usize {
  return __heap_base;
}
