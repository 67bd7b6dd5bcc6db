import type { Kernel } from "@minibatch/tensor";
import type { WebGPUBackend } from "./backend";
import { runElementwise } from "./kernels";
import { bindings, elementwiseMain, PRELUDE, wgslType } from "./wgsl";

// argsort and cumsum along one axis, seen as [outer, n, inner].

/**
 * Stable argsort by ranks: one thread per element counts the elements of its row that sort
 * before it (O(n) each, O(n^2) per row, fine for the row lengths models sort), then writes its
 * own index at that rank. NaN is the largest key, as on the CPU.
 */
function argsortSource(t: string, descending: boolean): string {
  const isNan = (v: string) => (t === "f32" ? `isnan_(${v})` : "false");
  const cmp = descending ? ">" : "<";
  return `${PRELUDE}
${bindings([["X", t]], [["Y", "i32"]])}
${elementwiseMain(`  // params: total, n, inner
  let n = U(1u);
  let inner = U(2u);
  let k = i % inner;
  let t = i / inner;
  let j = t % n;
  let base = (t / n) * n * inner + k;
  let kj = X[base + j * inner];
  let nanJ = ${isNan("kj")};
  var rank = 0u;
  for (var m = 0u; m < n; m = m + 1u) {
    let km = X[base + m * inner];
    let nanM = ${isNan("km")};
    let first = ${descending ? "(nanM && !nanJ)" : "(!nanM && nanJ)"} || (!nanM && !nanJ && km ${cmp} kj);
    let tie = (nanM && nanJ) || (!nanM && !nanJ && km == kj);
    if (first || (tie && m < j)) { rank = rank + 1u; }
  }
  Y[base + rank * inner] = i32(j);`)}`;
}

export const argsortKernel: Kernel<"argsort", WebGPUBackend> = (b, [x], [y], { n, inner, descending }) => {
  const t = wgslType(x.dtype);
  runElementwise(
    b,
    `argsort:${t}:${descending}`,
    () => argsortSource(t, descending),
    [x],
    [y],
    [y.size, n, inner],
    y.size,
  );
};

function cumsumSource(t: string, reverse: boolean): string {
  return `${PRELUDE}
${bindings([["X", t]], [["Y", t]])}
${elementwiseMain(`  // params: total (outer * inner), n, inner
  let n = U(1u);
  let inner = U(2u);
  let k = i % inner;
  let base = (i / inner) * n * inner + k;
  var s = ${t === "f32" ? "0.0" : `${t}(0)`};
  for (var c = 0u; c < n; c = c + 1u) {
    let j = ${reverse ? "n - 1u - c" : "c"};
    s = s + X[base + j * inner];
    Y[base + j * inner] = s;
  }`)}`;
}

export const cumsumKernel: Kernel<"cumsum", WebGPUBackend> = (b, [x], [y], { outer, n, inner, reverse }) => {
  const t = wgslType(x.dtype);
  runElementwise(
    b,
    `cumsum:${t}:${reverse}`,
    () => cumsumSource(t, reverse),
    [x],
    [y],
    [outer * inner, n, inner],
    outer * inner,
  );
};
