import { escapeXml } from "../charts/svg";

export interface Table {
  headers: string[];
  rows: string[][];
  /** Columns to right-align (numbers). */
  numeric?: boolean[];
}

/** A plain-text table with a header rule, for the terminal summary. */
export function textTable(t: Table): string {
  const widths = t.headers.map((h, i) => Math.max(h.length, ...t.rows.map((r) => (r[i] ?? "").length)));
  const cell = (s: string, i: number) => (t.numeric?.[i] ? s.padStart(widths[i]) : s.padEnd(widths[i]));
  const line = (r: string[]) => r.map(cell).join("  ").trimEnd();
  return [line(t.headers), widths.map((w) => "-".repeat(w)).join("  "), ...t.rows.map(line)].join("\n");
}

export function htmlTable(t: Table): string {
  const align = (i: number) => (t.numeric?.[i] ? ' class="num"' : "");
  const head = t.headers.map((h, i) => `<th${align(i)}>${escapeXml(h)}</th>`).join("");
  const body = t.rows
    .map((r) => `<tr>${r.map((c, i) => `<td${align(i)}>${escapeXml(c)}</td>`).join("")}</tr>`)
    .join("\n");
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

export const pct = (v: number, digits = 2): string =>
  Number.isFinite(v) ? `${(v * 100).toFixed(digits)} %` : "-";
export const num = (v: number, digits = 0): string =>
  Number.isFinite(v)
    ? v.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : "-";
export const mib = (bytes: number): string =>
  Number.isFinite(bytes) ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : "-";
