import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { jsonlFileDataset, readJsonlFile } from "./files";
import { parseJsonl } from "./jsonl";

const fx = (name: string) => fileURLToPath(new URL(`../../test/fixtures/${name}`, import.meta.url));

describe("JSON Lines", () => {
  it("streams values, skipping blank lines and handling CRLF", async () => {
    const out: unknown[] = [];
    for await (const v of readJsonlFile(fx("rows.jsonl"))) out.push(v);
    expect(out).toEqual([
      { x: 1, y: [1, 2] },
      { x: 2, y: [3, 4] },
      { x: 3, y: [5, 6] },
    ]);
  });

  it("handles lines split across chunks (and multi-byte characters split across bytes)", async () => {
    const bytes = new TextEncoder().encode('{"s":"é€"}\n{"s":"ok"}');
    const chunks = Array.from(bytes, (b) => Uint8Array.of(b));
    const out: unknown[] = [];
    for await (const v of parseJsonl(chunks)) out.push(v);
    expect(out).toEqual([{ s: "é€" }, { s: "ok" }]);
  });

  it("rejects invalid JSON, naming the file and line", async () => {
    const p = fx("bad.jsonl");
    await expect(jsonlFileDataset(p).toArray()).rejects.toThrow(
      new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: line 2: invalid JSON`),
    );
  });

  it("is re-readable as a dataset every epoch", async () => {
    const ds = jsonlFileDataset<{ x: number }>(fx("rows.jsonl")).map((r) => r.x);
    expect(await ds.toArray()).toEqual([1, 2, 3]);
    expect(await ds.toArray()).toEqual([1, 2, 3]);
  });
});
