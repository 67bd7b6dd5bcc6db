import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Figure } from "./figures";

/** Writes index.html, one SVG per figure and results.json into `dir`; returns the absolute folder. */
export function writeReport(dir: string, html: string, figures: readonly Figure[], json: unknown): string {
  const abs = resolve(dir);
  mkdirSync(abs, { recursive: true });
  writeFileSync(join(abs, "index.html"), html);
  for (const f of figures)
    writeFileSync(join(abs, `${f.file}.svg`), `<?xml version="1.0" encoding="UTF-8"?>\n${f.svg}\n`);
  writeFileSync(join(abs, "results.json"), `${JSON.stringify(json, null, 2)}\n`);
  return abs;
}
