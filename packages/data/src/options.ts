import { checkOptionKeys as coreCheck } from "@minibatch/tensor";

/**
 * Rejects option keys outside `known` with a "did you mean" hint: the core's one implementation,
 * in the argument order of this package's call sites.
 */
export function checkOptionKeys(opts: unknown, known: readonly string[], who: string): void {
  coreCheck(who, opts, known);
}
