import { version } from "../package.json";

/** One loaded copy of this package: its version and the file (or bundle URL) it was loaded from. */
export interface LoadedCopy {
  version: string;
  location: string;
}

// A registry key every copy agrees on, whatever its version or module format.
const KEY = Symbol.for("@minibatch/tensor.loaded");

/** The guides; errors for common mistakes link to the page that explains them. */
export const DOCS = "https://github.com/minibatch/minibatch/blob/main/docs/guide";
/** Where the docs explain duplicate copies and how to remove them. */
export const DEDUPE_HELP = `${DOCS}/install.md#one-copy`;

/** This copy: the version from package.json and the module URL this code runs from. */
export function thisCopy(): LoadedCopy {
  return { version, location: import.meta.url };
}

/**
 * Claims the process (or page) for this copy of @minibatch/tensor, and throws at once when another
 * copy already did. Two copies would each have their own engine: tensors made by one would be
 * unknown ("already disposed") to the other, `tidy` scopes and `memory()` would see half of the
 * tensors, and a backend registered on one would be missing on the other. Failing at load names
 * both copies, which is where the fix starts.
 *
 * Evaluating the same file again (Vite's hot reload, a test runner's fresh module graph) is the
 * same copy and is allowed; query strings such as `?v=1234` are not part of the identity.
 */
export function claimSingleton(copy: LoadedCopy = thisCopy()): void {
  const registry = globalThis as unknown as Record<symbol, LoadedCopy | undefined>;
  const here = { version: copy.version, location: withoutQuery(copy.location) };
  const first = registry[KEY];
  if (first && first.location !== here.location) throw new Error(duplicateMessage(first, here));
  registry[KEY] = Object.freeze(here);
}

function withoutQuery(location: string): string {
  const i = location.search(/[?#]/);
  return i < 0 ? location : location.slice(0, i);
}

function duplicateMessage(first: LoadedCopy, second: LoadedCopy): string {
  return [
    "@minibatch/tensor: a second copy was loaded; one process can hold only one, because each copy has its own engine (tensors, backends, tidy scopes and memory() would not be shared).",
    `  first:  ${first.version} at ${first.location}`,
    `  second: ${second.version} at ${second.location}`,
    "How to keep one copy: every @minibatch package lists @minibatch/tensor as a peer dependency, so install it once in your app (npm install @minibatch/tensor), run `npm dedupe` (or `pnpm dedupe`, `yarn dedupe`) and check with `npm ls @minibatch/tensor`;",
    'a package that pins another version in its "dependencies" must move it to "peerDependencies". In a bundler, resolve it to one path (Vite: resolve.dedupe: ["@minibatch/tensor"]).',
    `See ${DEDUPE_HELP}`,
  ].join("\n");
}
