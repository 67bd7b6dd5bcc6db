import { formatShape as fmt, isGradEnabled, type Tensor, tidy } from "@minibatch/tensor";

/** True when an op on these tensors would be recorded for autograd. */
export function recording(...ts: (Tensor | null | undefined)[]): boolean {
  return isGradEnabled() && ts.some((t) => t?.requiresGrad);
}

/**
 * Runs `fn` in a `tidy` scope unless autograd is recording: a recorded graph still needs the
 * intermediates for backward, so they must then live in the caller's scope.
 */
export function scoped<T>(record: boolean, fn: () => T): T {
  return record ? fn() : tidy(fn);
}

/** [1, ..., C, ..., 1] of the input's rank: a per-channel vector broadcast along `axis`. */
export function channelShape(rank: number, axis: number, c: number): number[] {
  const s = new Array<number>(rank).fill(1);
  s[axis] = c;
  return s;
}

export function checkRank(name: string, x: Tensor, ranks: readonly number[]): void {
  if (ranks.includes(x.rank)) return;
  const want =
    ranks.length === 1
      ? `${ranks[0]}D`
      : `${ranks
          .slice(0, -1)
          .map((r) => `${r}D`)
          .join(", ")} or ${ranks[ranks.length - 1]}D`;
  throw new Error(`${name}: expected ${want} input (got ${x.rank}D input of shape ${fmt(x.shape)})`);
}

export function checkChannels(name: string, x: Tensor, axis: number, c: number): void {
  if (x.shape[axis] !== c) {
    throw new Error(
      `${name}: expected ${c} channels on axis ${axis}, got input of shape ${fmt(x.shape)} (${x.shape[axis]} channels)`,
    );
  }
}

export function checkPositiveInt(name: string, what: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0)
    throw new Error(`${name}: ${what} must be a positive integer, got ${v}`);
}

export function checkEps(name: string, eps: number): void {
  if (!(eps >= 0) || !Number.isFinite(eps))
    throw new Error(`${name}: eps must be a finite number >= 0, got ${eps}`);
}
