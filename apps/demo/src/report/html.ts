import { escapeXml } from "../charts/svg";

export interface Section {
  heading: string;
  /** Paragraphs of plain text (escaped). */
  text?: string[];
  /** Inline SVG figures, side by side when they fit. */
  figures?: string[];
  /** One caption per figure (same order), generated from the figure's data. */
  captions?: string[];
  /** Verdicts shown as a list under the heading. */
  verdicts?: { outcome: string; text: string }[];
  /** Pre-built HTML (a table). */
  html?: string;
}

function outcomeClass(outcome: string): string {
  if (outcome === "holds") return "holds";
  if (outcome === "partly") return "partly";
  if (outcome === "does not hold") return "fails";
  return "none";
}

/** A self-contained HTML page: inline CSS and SVG, no scripts, no external assets. */
export function htmlPage(title: string, intro: string[], sections: Section[], footer?: string): string {
  const body = sections
    .map(
      (s) => `<section>
<h2>${escapeXml(s.heading)}</h2>
${s.verdicts?.length ? `<ul class="verdicts">${s.verdicts.map((v) => `<li><b class="${outcomeClass(v.outcome)}">${escapeXml(v.outcome)}</b> ${escapeXml(v.text)}</li>`).join("\n")}</ul>` : ""}
${(s.text ?? []).map((p) => `<p>${escapeXml(p)}</p>`).join("\n")}
${s.figures?.length ? `<div class="figs">${s.figures.map((f, i) => `<figure>${f}${s.captions?.[i] ? `<figcaption>${escapeXml(s.captions[i])}</figcaption>` : ""}</figure>`).join("\n")}</div>` : ""}
${s.html ?? ""}
</section>`,
    )
    .join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeXml(title)}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; max-width: 1360px; padding: 24px; color: #222; background: #fafafa; }
h1 { font-size: 24px; margin: 0 0 8px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
p { max-width: 900px; line-height: 1.45; }
.figs { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; background: #fff; border: 1px solid #ddd; }
figure svg { display: block; max-width: 100%; height: auto; }
table { border-collapse: collapse; background: #fff; margin: 8px 0; font-size: 14px; }
th, td { border: 1px solid #ddd; padding: 4px 10px; text-align: left; }
th { background: #f0f0f0; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
figcaption { padding: 6px 10px 10px; font-size: 13px; line-height: 1.4; max-width: 620px; color: #333; }
ul.verdicts { padding-left: 18px; line-height: 1.45; max-width: 1000px; }
b.holds { color: #1a7f37; } b.partly { color: #9a6700; } b.fails { color: #cf222e; } b.none { color: #666; }
footer { margin-top: 32px; color: #666; font-size: 12px; }
</style>
</head>
<body>
<h1>${escapeXml(title)}</h1>
${intro.map((p) => `<p>${escapeXml(p)}</p>`).join("\n")}
${body}
${footer ? `<footer>${escapeXml(footer)}</footer>` : ""}
</body>
</html>
`;
}
