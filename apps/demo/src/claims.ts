/**
 * The claims the demo measures, in the words people meet them in. Each study states which ones it
 * tests; its verdicts are computed from the run's own numbers (see `Verdict`).
 */
export const CLAIMS: Record<number, string> = {
  1: "A batch is the unit of processing; batch size trades memory for speed",
  2: "Bigger batches train faster",
  3: "The averaged gradient of a bigger batch is more stable",
  4: "Batching lets data larger than memory be trained on",
  5: "Normalizing the inputs helps training",
  6: "Batch Normalization stabilizes and accelerates training, allows higher learning rates, and its gamma and beta let the network undo it",
  7: "Batch Normalization fails on very small batches",
};

export type Outcome = "holds" | "partly" | "does not hold" | "not measured";

/** One claim's verdict: what the run measured, and whether that supports the claim. */
export interface Verdict {
  claim: number;
  /** The part of the claim this verdict is about (e.g. "with the learning rate scaled to the batch"). */
  aspect: string;
  outcome: Outcome;
  /** Generated from the measurements: numbers, which run is ahead and by how much. */
  evidence: string;
}

export function verdictLine(v: Verdict): string {
  return `Claim ${v.claim} (${v.aspect}): ${v.outcome.toUpperCase()}. ${v.evidence}`;
}
