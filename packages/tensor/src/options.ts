// One implementation for every package: an options object with a key the callee does not know is
// an error (with the closest known key as a hint), never silently ignored.

/**
 * Rejects option keys a constructor or op does not know, naming the closest known one: a misspelt or
 * snake_case option (`weight_decay`) would otherwise be dropped silently and the default used.
 */
export function checkOptionKeys(
  owner: string,
  options: unknown,
  known: readonly string[],
  where = "the options",
): void {
  if (options === undefined) return;
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new Error(`${owner}: ${where} must be an object, got ${describeValue(options)}`);
  }
  for (const key of Object.keys(options)) {
    // A key set to undefined means "the default", as if it were absent.
    if (known.includes(key) || (options as Record<string, unknown>)[key] === undefined) continue;
    const hint = suggest(key, known);
    throw new Error(
      `${owner}: unknown option '${key}' in ${where}${hint ? `; did you mean '${hint}'?` : ""} (known: ${known.join(", ")})`,
    );
  }
}

/** Spellings from other libraries that edit distance would not connect to our names. */
const ALIASES: Record<string, string> = {
  learningrate: "lr",
  learnrate: "lr",
  rate: "lr",
  beta1: "betas",
  beta2: "betas",
  epsilon: "eps",
  decay: "weightDecay",
  l2: "weightDecay",
  nesterovmomentum: "nesterov",
};

const normalize = (s: string) => s.toLowerCase().replace(/[_\-\s]/g, "");

/** The known key closest to `key`: same letters ignoring case and underscores, an alias, or a near typo. */
export function suggest(key: string, known: readonly string[]): string | undefined {
  const n = normalize(key);
  const exact = known.find((k) => normalize(k) === n);
  if (exact) return exact;
  const alias = ALIASES[n];
  if (alias && known.includes(alias)) return alias;
  // A near typo first ('shuffleWindw' is 'shuffleWindow', not 'shuffle')...
  let best: string | undefined;
  let bestDist = Math.max(2, Math.floor(n.length / 3)) + 1;
  for (const k of known) {
    const d = editDistance(n, normalize(k));
    if (d < bestDist) {
      bestDist = d;
      best = k;
    }
  }
  if (best && bestDist <= 2) return best;
  // ...then a shortened or extended name ('gen' for 'generator', 'reduce' for 'reduction'), the
  // known key sharing the longest prefix.
  let prefix: string | undefined;
  let longest = 0;
  for (const k of known) {
    const m = normalize(k);
    let common = 0;
    while (common < Math.min(m.length, n.length) && m[common] === n[common]) common++;
    if (common >= Math.max(3, Math.ceil(0.7 * Math.min(m.length, n.length))) && common > longest) {
      longest = common;
      prefix = k;
    }
  }
  return prefix ?? best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

export function describeValue(v: unknown): string {
  if (v === null || typeof v !== "object") return String(v);
  if (Array.isArray(v)) return "an array";
  return v.constructor?.name ?? "object";
}
