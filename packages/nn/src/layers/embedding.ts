import {
  checkIndices,
  checkOptionKeys,
  formatShape,
  fromArray,
  type Generator,
  noGrad,
  type Tensor,
  zeros,
} from "@minibatch/tensor";
import { normal_ } from "../init";
import { Module } from "../module";
import { checkPositiveInt } from "./linear";

export interface EmbeddingOptions {
  /** This row starts at zero and receives no gradient (PyTorch `padding_idx`). */
  paddingIdx?: number;
  generator?: Generator;
}

/**
 * A lookup table of `numEmbeddings` vectors of size `embeddingDim` (PyTorch `nn.Embedding`),
 * initialized from N(0, 1). Input: int32 indices of any shape; output: that shape + [embeddingDim].
 * The gradient reaches only the rows looked up (through indexSelect's scatter-add), accumulating
 * over repeats.
 */
export class Embedding extends Module {
  readonly weight: Tensor;
  readonly paddingIdx: number | null;

  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    opts: EmbeddingOptions = {},
  ) {
    super();
    checkOptionKeys("Embedding", opts, ["paddingIdx", "generator"]);
    checkPositiveInt("Embedding", { numEmbeddings, embeddingDim });
    this.paddingIdx = normalizePadding(opts.paddingIdx, numEmbeddings);
    this.weight = this.registerParameter("weight", zeros([numEmbeddings, embeddingDim]));
    this.resetParameters(opts.generator);
  }

  /** An embedding whose weight is a copy of `weights` [num, dim] (PyTorch `from_pretrained`). */
  static fromPretrained(weights: Tensor, opts: { freeze?: boolean; paddingIdx?: number } = {}): Embedding {
    if (weights.rank !== 2) {
      throw new Error(`Embedding.fromPretrained: expected a 2-d weight, got ${formatShape(weights.shape)}`);
    }
    checkOptionKeys("Embedding.fromPretrained", opts, ["freeze", "paddingIdx"]);
    const e = new Embedding(weights.shape[0], weights.shape[1], { paddingIdx: opts.paddingIdx });
    const copy = noGrad(() => weights.cast("float32").clone());
    try {
      e.weight.assign(copy);
    } finally {
      copy.dispose();
    }
    if (opts.freeze ?? true) e.weight.requiresGrad_(false);
    return e;
  }

  resetParameters(generator?: Generator): void {
    normal_(this.weight, 0, 1, { generator });
    if (this.paddingIdx !== null) zeroRow(this.weight, this.paddingIdx);
  }

  forward(indices: Tensor): Tensor {
    if (indices.dtype !== "int32") {
      throw new Error(
        `Embedding: indices must be int32, got ${indices.dtype} of shape ${formatShape(indices.shape)}; use t.int()`,
      );
    }
    const n = this.numEmbeddings;
    // On every backend (a GPU reports it on the next read); negative rows are errors, as in PyTorch.
    checkIndices(indices, { op: "Embedding", what: "index", low: 0, high: n, range: `${n} embeddings` });
    const out = this.weight.indexSelect(0, indices.rank === 0 ? indices.reshape([1]) : indices);
    const shaped = indices.rank === 0 ? out.reshape([this.embeddingDim]) : out;
    if (this.paddingIdx === null || !shaped.requiresGrad) return shaped;
    // Same values, but the padding positions take the detached copy, so no gradient reaches that row.
    const isPad = indices.eq(this.paddingIdx).unsqueeze(-1);
    return shaped.detach().where(isPad, shaped);
  }

  override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}${this.paddingIdx !== null ? `, paddingIdx=${this.paddingIdx}` : ""}`;
  }
}

function normalizePadding(p: number | undefined, n: number): number | null {
  if (p === undefined || p === null) return null;
  if (!Number.isInteger(p) || p < -n || p >= n) {
    throw new Error(`Embedding: paddingIdx must be an integer in [-${n}, ${n}), got ${p}`);
  }
  return p < 0 ? p + n : p;
}

function zeroRow(w: Tensor, row: number): void {
  const [n, d] = w.shape;
  const keepRows = new Float32Array(n * d).fill(1);
  keepRows.fill(0, row * d, (row + 1) * d);
  const m = fromArray(keepRows, w.shape, "float32", { backend: w.backend.name });
  const next = noGrad(() => w.mul(m));
  w.assign(next);
  next.dispose();
  m.dispose();
}
