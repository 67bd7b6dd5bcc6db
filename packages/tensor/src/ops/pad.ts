import { fmt } from "../shape";
import type { Tensor } from "../tensor";
import { full } from "./create";
import { composite } from "./run";
import { concat, indexSelect, narrow } from "./shape_ops";

export type PadMode = "constant" | "reflect" | "replicate" | "circular";

const MODES: readonly PadMode[] = ["constant", "reflect", "replicate", "circular"];

/**
 * Pads x (PyTorch `F.pad`). `pads` lists (before, after) pairs starting from the LAST axis:
 * [left, right] pads the last axis, [left, right, top, bottom] the last two, and so on.
 * 'constant' fills with `value` (a negative amount crops); 'reflect' mirrors without repeating the
 * edge (amount < size), 'replicate' repeats the edge, 'circular' wraps around (amount <= size).
 * Built from concat and indexSelect, so gradients flow to x.
 */
export function pad(x: Tensor, pads: readonly number[], mode: PadMode = "constant", value = 0): Tensor {
  return composite([x], () => {
    if (!MODES.includes(mode)) {
      throw new Error(
        `pad: mode must be one of ${MODES.map((m) => `'${m}'`).join(", ")}, got '${String(mode)}'`,
      );
    }
    if (!Array.isArray(pads) || pads.length % 2 !== 0 || pads.length / 2 > x.rank) {
      throw new Error(
        `pad: expected an even number of amounts, at most 2 per axis of the ${x.rank}-d input ${fmt(x.shape)}, got [${pads}]`,
      );
    }
    pads.forEach((p, i) => {
      if (!Number.isInteger(p)) throw new Error(`pad: amount ${i} must be an integer, got ${p}`);
      if (mode !== "constant" && p < 0) {
        throw new Error(
          `pad: negative amounts (cropping) only work with mode 'constant', got ${p} with '${mode}'`,
        );
      }
    });
    let y = x;
    for (let k = 0; k < pads.length / 2; k++) {
      const axis = x.rank - 1 - k;
      const before = pads[2 * k];
      const after = pads[2 * k + 1];
      if (before === 0 && after === 0) continue;
      y =
        mode === "constant"
          ? padConstant(y, axis, before, after, value)
          : padIndexed(y, axis, before, after, mode);
    }
    return y === x ? x.clone() : y;
  });
}

function padConstant(x: Tensor, axis: number, before: number, after: number, value: number): Tensor {
  const n = x.shape[axis];
  // Negative amounts crop first.
  const cropBefore = Math.max(0, -before);
  const cropAfter = Math.max(0, -after);
  if (cropBefore + cropAfter > n) {
    throw new Error(`pad: cropping ${cropBefore + cropAfter} from axis ${axis} of size ${n} leaves nothing`);
  }
  let y = cropBefore || cropAfter ? narrow(x, axis, cropBefore, n - cropBefore - cropAfter) : x;
  const parts: Tensor[] = [];
  const block = (m: number) => {
    const shape = [...y.shape];
    shape[axis] = m;
    return full(shape, value, { dtype: y.dtype, backend: y.backend.name });
  };
  if (before > 0) parts.push(block(before));
  parts.push(y);
  if (after > 0) parts.push(block(after));
  if (parts.length > 1) y = concat(parts, axis);
  return y;
}

function padIndexed(x: Tensor, axis: number, before: number, after: number, mode: PadMode): Tensor {
  const n = x.shape[axis];
  if (mode === "reflect" && (before >= n || after >= n)) {
    throw new Error(
      `pad: 'reflect' needs amounts smaller than the axis size, got [${before}, ${after}] for axis ${axis} of size ${n}`,
    );
  }
  if (mode === "circular" && (before > n || after > n)) {
    throw new Error(
      `pad: 'circular' needs amounts at most the axis size, got [${before}, ${after}] for axis ${axis} of size ${n}`,
    );
  }
  const idx: number[] = [];
  for (let j = -before; j < n + after; j++) {
    if (mode === "replicate") idx.push(Math.min(n - 1, Math.max(0, j)));
    else if (mode === "circular") idx.push(((j % n) + n) % n);
    else idx.push(j < 0 ? -j : j >= n ? 2 * (n - 1) - j : j);
  }
  return indexSelect(x, axis, idx);
}
