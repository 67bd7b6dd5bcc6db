import { ENGINE } from "./engine";
import { Tensor } from "./tensor";

/**
 * Runs `fn` and disposes every tensor created inside it, except the tensors it returns (found
 * in arrays and plain objects too) and tensors passed to `keep`. Works with async functions:
 * the scope closes when the promise settles. Scopes nest; while an async scope is open, tensors
 * made by other concurrent code also land in it, so keep concurrent async scopes apart.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  ENGINE.scopes.push(scope);
  const close = (result: unknown) => {
    const i = ENGINE.scopes.lastIndexOf(scope);
    if (i >= 0) ENGINE.scopes.splice(i, 1);
    const survivors = new Set<Tensor>();
    collect(result, survivors);
    const parent = ENGINE.scopes[ENGINE.scopes.length - 1] ?? null;
    // forEach rather than for-of: no iterator objects, and this runs for every scope (an eager
    // step opens dozens). A survivor moves to the enclosing scope, so a tensor is always in at
    // most one scope.
    scope.forEach((t) => {
      t._scope = null;
      if (survivors.has(t)) {
        parent?.add(t);
        t._scope = parent;
      } else if (!t._kept) t.dispose();
    });
  };
  let result: T;
  try {
    result = fn();
  } catch (e) {
    close(undefined);
    throw e;
  }
  if (result instanceof Promise) {
    return result.then(
      (v) => {
        close(v);
        return v;
      },
      (e) => {
        close(undefined);
        throw e;
      },
    ) as T;
  }
  close(result);
  return result;
}

/** Exempts tensors from every enclosing `tidy` (they must then be disposed by hand). */
export function keep<T extends Tensor>(t: T): T {
  ENGINE.untrack(t);
  t._kept = true;
  return t;
}

/** Disposes tensors found in any nesting of arrays and objects. */
export function dispose(x: unknown): void {
  const all = new Set<Tensor>();
  collect(x, all);
  for (const t of all) t.dispose();
}

function collect(x: unknown, out: Set<Tensor>, depth = 0): void {
  if (depth > 8 || x === null || typeof x !== "object") return;
  if (x instanceof Tensor) {
    out.add(x);
    return;
  }
  if (Array.isArray(x)) {
    for (const v of x) collect(v, out, depth + 1);
    return;
  }
  if (x instanceof Map) {
    for (const v of x.values()) collect(v, out, depth + 1);
    return;
  }
  if (Object.getPrototypeOf(x) === Object.prototype) {
    for (const v of Object.values(x)) collect(v, out, depth + 1);
  }
}
