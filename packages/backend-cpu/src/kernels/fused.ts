import type { FusedArg, FusedExpr, FusedKernel, FusibleOp, TensorInfo } from "@minibatch/tensor";
import { assertNever } from "@minibatch/tensor";
import type { CpuData } from "../backend";
import { wasmRuntime } from "../wasm/runtime";

/**
 * Fused elementwise kernels for compiled steps. Each chain of ops becomes a small WebAssembly
 * function generated at run time (four floats per instruction, one pass over memory), cached by
 * the chain's key. The fusible ops are exactly rounded, so the result equals the ops run one by
 * one. Buffers outside wasm memory (rare: before the module loads, past 4 GiB) take an
 * interpreter over the same expression.
 */
export function fuseElementwiseCpu(expr: FusedExpr): FusedKernel | null {
  const w = wasmRuntime();
  if (!w) return null;
  let fn = CACHE.get(expr.key);
  if (!fn) {
    fn = emit(expr, w.exports.memory);
    CACHE.set(expr.key, fn);
  }
  const compiled = fn;
  const full = expr.inputs.map((k) => k === "full");
  const args: number[] = new Array(expr.inputs.length + expr.outputs.length + 1).fill(0);
  return (ins, outs) => {
    let resident = true;
    let a = 0;
    // Parameters: full inputs' pointers, outputs' pointers, scalars' values, the size.
    for (let k = 0; k < ins.length; k++) {
      if (!full[k]) continue;
      const p = (ins[k].dataId as CpuData).ptr;
      if (p < 0) resident = false;
      args[a++] = p;
    }
    for (let k = 0; k < outs.length; k++) {
      const p = (outs[k].dataId as CpuData).ptr;
      if (p < 0) resident = false;
      args[a++] = p;
    }
    for (let k = 0; k < ins.length; k++) if (!full[k]) args[a++] = (ins[k].dataId as CpuData).values[0];
    args[a] = expr.size;
    // apply, not a spread: this runs for every fused launch of every replay, and the spread
    // allocated.
    if (resident) compiled.apply(null, args);
    else interpret(expr, ins, outs);
  };
}

const CACHE = new Map<string, (...args: number[]) => void>();

function interpret(expr: FusedExpr, ins: readonly TensorInfo[], outs: readonly TensorInfo[]): void {
  const src = ins.map((t) => (t.dataId as CpuData).values as Float32Array);
  const dst = outs.map((t) => (t.dataId as CpuData).values as Float32Array);
  const v = new Float64Array(expr.nodes.length);
  const read = (a: FusedArg, i: number) =>
    "node" in a ? v[a.node] : expr.inputs[a.input] === "full" ? src[a.input][i] : src[a.input][0];
  for (let i = 0; i < expr.size; i++) {
    expr.nodes.forEach((n, j) => {
      const x = read(n.args[0], i);
      const y = n.args.length > 1 ? read(n.args[1], i) : 0;
      v[j] = Math.fround(scalarOp(n.op, x, y));
    });
    expr.outputs.forEach((node, k) => {
      dst[k][i] = v[node];
    });
  }
}

function scalarOp(op: FusibleOp, x: number, y: number): number {
  switch (op) {
    case "add":
      return x + y;
    case "sub":
      return x - y;
    case "mul":
      return x * y;
    case "div":
      return x / y;
    case "neg":
      return -x;
    case "abs":
      return Math.abs(x);
    default:
      return assertNever(op, "fused kernel");
  }
}

// ---- WebAssembly emission -------------------------------------------------------------------------

/** Opcodes: the f32x4 (0xfd prefix, LEB128 index) and f32 form of each op. */
const OPS: { [K in FusibleOp]: { simd: number; f32: number } } = {
  add: { simd: 0xe4, f32: 0x92 },
  sub: { simd: 0xe5, f32: 0x93 },
  mul: { simd: 0xe6, f32: 0x94 },
  div: { simd: 0xe7, f32: 0x95 },
  neg: { simd: 0xe1, f32: 0x8c },
  abs: { simd: 0xe0, f32: 0x8b },
};

const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const name = (s: string) => [...uleb(s.length), ...[...s].map((c) => c.charCodeAt(0))];

/**
 * One function `f(fullPtrs..., outPtrs..., scalars..., n)`: a loop of f32x4 over the first
 * n & ~3 elements, then an f32 loop over the rest.
 */
function emit(expr: FusedExpr, memory: WebAssembly.Memory): (...args: number[]) => void {
  const fullIdx: number[] = [];
  const scalarIdx: number[] = [];
  expr.inputs.forEach((k, i) => {
    (k === "full" ? fullIdx : scalarIdx).push(i);
  });
  const F = fullIdx.length;
  const O = expr.outputs.length;
  const S = scalarIdx.length;
  const N = expr.nodes.length;
  // Parameters.
  const pFull = (k: number) => fullIdx.indexOf(k);
  const pOut = (k: number) => F + k;
  const pScalar = (k: number) => F + O + scalarIdx.indexOf(k);
  const pN = F + O + S;
  const params = [...Array(F + O).fill(I32), ...Array(S).fill(F32), I32];
  // Locals: i (byte offset), vend, end; v128 per full input, scalar splat and node; f32 per full input and node.
  const L = pN + 1;
  const lI = L;
  const lVend = L + 1;
  const lEnd = L + 2;
  const vIn = (k: number) => L + 3 + pFull(k);
  const vSc = (k: number) => L + 3 + F + scalarIdx.indexOf(k);
  const vNode = (j: number) => L + 3 + F + S + j;
  const fIn = (k: number) => L + 3 + F + S + N + pFull(k);
  const fNode = (j: number) => L + 3 + F + S + N + F + j;
  const locals = [
    [...uleb(3), I32],
    [...uleb(F + S + N), V128],
    [...uleb(F + N), F32],
  ];
  const memarg = (align: number) => [...uleb(align), 0];
  const get = (l: number) => [0x20, ...uleb(l)];
  const set = (l: number) => [0x21, ...uleb(l)];
  const simd = (op: number) => [0xfd, ...uleb(op)];
  const addr = (ptrParam: number) => [...get(ptrParam), ...get(lI), 0x6a];
  const operand = (a: FusedArg, vector: boolean): number[] => {
    if ("node" in a) return get(vector ? vNode(a.node) : fNode(a.node));
    if (expr.inputs[a.input] === "full") return get(vector ? vIn(a.input) : fIn(a.input));
    return get(vector ? vSc(a.input) : pScalar(a.input));
  };
  const loopBody = (vector: boolean): number[] => {
    const code: number[] = [];
    for (const k of fullIdx) {
      code.push(
        ...addr(pFull(k)),
        ...(vector ? [...simd(0x00), ...memarg(2)] : [0x2a, ...memarg(2)]),
        ...set(vector ? vIn(k) : fIn(k)),
      );
    }
    expr.nodes.forEach((n, j) => {
      for (const a of n.args) code.push(...operand(a, vector));
      code.push(...(vector ? simd(OPS[n.op].simd) : [OPS[n.op].f32]), ...set(vector ? vNode(j) : fNode(j)));
    });
    expr.outputs.forEach((node, k) => {
      code.push(...addr(pOut(k)), ...get(vector ? vNode(node) : fNode(node)));
      code.push(...(vector ? [...simd(0x0b), ...memarg(2)] : [0x38, ...memarg(2)]));
    });
    code.push(...get(lI), 0x41, ...sleb(vector ? 16 : 4), 0x6a, ...set(lI));
    return code;
  };
  const loop = (endLocal: number, vector: boolean): number[] => [
    0x02,
    0x40, // block
    0x03,
    0x40, // loop
    ...get(lI),
    ...get(endLocal),
    0x4f,
    0x0d,
    1, // i >= end: break
    ...loopBody(vector),
    0x0c,
    0, // continue
    0x0b,
    0x0b,
  ];
  const body: number[] = [
    ...vec(locals),
    // end = n * 4; vend = (n & ~3) * 4; i = 0
    ...get(pN),
    0x41,
    ...sleb(2),
    0x74,
    ...set(lEnd),
    ...get(pN),
    0x41,
    ...sleb(-4),
    0x71,
    0x41,
    ...sleb(2),
    0x74,
    ...set(lVend),
    ...scalarIdx.flatMap((k) => [...get(pScalar(k)), ...simd(0x13), ...set(vSc(k))]),
    ...loop(lVend, true),
    ...loop(lEnd, false),
    0x0b,
  ];
  const shared = typeof SharedArrayBuffer !== "undefined" && memory.buffer instanceof SharedArrayBuffer;
  const memType = shared ? [0x03, ...uleb(1), ...uleb(65536)] : [0x00, ...uleb(1)];
  const bytes = new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vec([[0x60, ...vec(params.map((p) => [p])), 0]])),
    ...section(2, vec([[...name("m"), ...name("memory"), 0x02, ...memType]])),
    ...section(3, vec([[0]])),
    ...section(7, vec([[...name("f"), 0x00, 0]])),
    ...section(10, vec([[...uleb(body.length), ...body]])),
  ]);
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { m: { memory } });
  return instance.exports.f as (...args: number[]) => void;
}
