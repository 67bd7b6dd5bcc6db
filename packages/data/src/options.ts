/** Rejects option keys outside `known`, with a "did you mean" hint for a near miss. */
export function checkOptionKeys(opts: unknown, known: readonly string[], who: string): void {
  if (opts === undefined) return;
  if (opts === null || typeof opts !== "object")
    throw new Error(`${who}: options must be an object, got ${String(opts)}`);
  for (const key of Object.keys(opts)) {
    if (known.includes(key)) continue;
    const norm = (k: string) => k.replace(/_/g, "").toLowerCase();
    const near = known.find((k) => norm(k) === norm(key));
    throw new Error(
      `${who}: unknown option '${key}'${near ? ` (did you mean '${near}'?)` : ""}; expected one of ${known.join(", ")}`,
    );
  }
}
