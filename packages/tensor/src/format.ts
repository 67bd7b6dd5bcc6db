import type { DType, TypedArray } from "./dtype";
import { fmt, type Shape } from "./shape";

const EDGE = 3;
const MAX_FULL = 1000;

/** Renders values the way PyTorch prints them: nested brackets, aligned, summarized when large. */
export function formatTensor(
  values: TypedArray | undefined,
  shape: Shape,
  dtype: DType,
  backend: string,
  requiresGrad: boolean,
): string {
  const meta = `shape=${fmt(shape)}, dtype=${dtype}${backend !== "cpu" ? `, backend=${backend}` : ""}${requiresGrad ? ", requiresGrad=true" : ""}`;
  if (!values) return `tensor(<on ${backend}: await t.data() to read>, ${meta})`;
  const summarize = values.length > MAX_FULL;
  const allInt = dtype !== "float32" || values.every((v) => Number.isInteger(v) || !Number.isFinite(v));
  const one = (v: number): string => {
    if (dtype === "bool") return v ? "true" : "false";
    if (allInt) return dtype === "float32" && Number.isFinite(v) ? `${v}.` : String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-4 || a >= 1e6)) return v.toExponential(4);
    return v.toFixed(4);
  };
  const cells: string[] = [];
  for (const v of values) cells.push(one(v));
  const width = Math.max(0, ...cells.map((c) => c.length));
  const pad = (s: string) => s.padStart(width);
  const rec = (dim: number, offset: number, indent: string): string => {
    if (shape.length === 0) return cells[0];
    const n = shape[dim];
    let step = 1;
    for (let d = dim + 1; d < shape.length; d++) step *= shape[d];
    const idx = summarize && n > 2 * EDGE ? [...range(0, EDGE), -1, ...range(n - EDGE, n)] : range(0, n);
    if (dim === shape.length - 1) {
      return `[${idx.map((i) => (i < 0 ? "..." : pad(cells[offset + i]))).join(", ")}]`;
    }
    const sep = `,${"\n".repeat(shape.length - dim - 1)}${indent} `;
    return `[${idx.map((i) => (i < 0 ? "..." : rec(dim + 1, offset + i * step, `${indent} `))).join(sep)}]`;
  };
  return `tensor(${rec(0, 0, "       ")}, ${meta})`;
}

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a }, (_, i) => a + i);
}
