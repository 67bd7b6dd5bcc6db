/**
 * A small SVG line-chart writer for the report and the web page: titles, axis labels, ticks,
 * legends, gaps for missing values, linear or log x axes. Output is a standalone <svg> string
 * (xmlns set, white background, system fonts) that works as a file and inline in HTML.
 */

export interface Series {
  name: string;
  color: string;
  /** [x, y] pairs; a non-finite y breaks the line (e.g. a diverged run). */
  points: readonly (readonly [number, number])[];
  /** SVG stroke-dasharray, e.g. "6 4". */
  dash?: string;
  /** Draw a dot at each point (useful when points are few). */
  markers?: boolean;
}

export interface LineChartOptions {
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  width?: number;
  height?: number;
  xDomain?: readonly [number, number];
  yDomain?: readonly [number, number];
  logX?: boolean;
  /** Log-scale y axis (for power laws such as 1/B; say so in the axis label). */
  logY?: boolean;
  /** Explicit x tick values (e.g. the batch sizes measured). */
  xTicks?: readonly number[];
  xFormat?: (v: number) => string;
  yFormat?: (v: number) => string;
  /** Horizontal reference line, e.g. a target accuracy. */
  yRule?: { value: number; label: string };
}

export const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"];

export function escapeXml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => `&${{ "&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "#39" }[c]};`,
  );
}

/** About `count` round tick values (1, 2 or 5 times a power of ten) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) {
    ticks.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));
  }
  return ticks;
}

/** Domain [lo, hi] of the finite values, widened to round ticks; a flat range gets a margin. */
function autoDomain(values: number[], pad = 0.05): [number, number] {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return [0, 1];
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (hi - lo < 1e-12) {
    const m = Math.abs(lo) * 0.1 || 1;
    lo -= m;
    hi += m;
  }
  const span = hi - lo;
  return [lo - span * pad, hi + span * pad];
}

const fmtDefault = (v: number): string => {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(0);
  if (a >= 1000) return `${+(v / 1000).toFixed(1)}k`;
  return String(+v.toPrecision(4));
};

export function lineChart(o: LineChartOptions): string {
  const width = o.width ?? 640;
  const height = o.height ?? 400;
  const head = o.subtitle ? 52 : 36;
  const legend = layoutLegend(o.series, width, head + 8);
  const m = { top: head + legend.height + 8, right: 20, bottom: 56, left: 72 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const xs = o.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = o.series.flatMap((s) => s.points.map((p) => p[1]));
  const logX = o.logX ?? false;
  const tx = (v: number) => (logX ? Math.log10(Math.max(v, 1e-12)) : v);
  let [x0, x1] = o.xDomain ?? (xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1]);
  if (!(x1 > x0)) [x0, x1] = [x0 - 1, x1 + 1];
  const logY = o.logY ?? false;
  const ty = (v: number) => (logY ? Math.log10(Math.max(v, 1e-300)) : v);
  const positive = ys.filter((v) => Number.isFinite(v) && v > 0);
  const [y0, y1] =
    o.yDomain ??
    (logY && positive.length ? [Math.min(...positive) / 1.3, Math.max(...positive) * 1.3] : autoDomain(ys));
  const sx = (v: number) => m.left + ((tx(v) - tx(x0)) / (tx(x1) - tx(x0))) * pw;
  const sy = (v: number) => m.top + ph - ((ty(v) - ty(y0)) / (ty(y1) - ty(y0))) * ph;
  const xf = o.xFormat ?? fmtDefault;
  const yf = o.yFormat ?? fmtDefault;
  const r = (v: number) => v.toFixed(1);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif" font-size="12" role="img" aria-label="${escapeXml(o.title)}">`,
    `<title>${escapeXml(o.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="600" fill="#222">${escapeXml(o.title)}</text>`,
  );
  if (o.subtitle) {
    out.push(
      `<text x="${width / 2}" y="40" text-anchor="middle" font-size="11.5" fill="#555">${escapeXml(o.subtitle)}</text>`,
    );
  }
  // Grid and ticks.
  const yTicks = (logY ? logTicks(y0, y1) : niceTicks(y0, y1, 6)).filter(
    (v) => v >= y0 - 1e-12 && v <= y1 + 1e-12,
  );
  let xTicks = o.xTicks ? [...o.xTicks] : logX ? logTicks(x0, x1) : niceTicks(x0, x1, 6);
  xTicks = xTicks.filter((v) => v >= x0 - 1e-9 && v <= x1 * (1 + 1e-9) + 1e-9);
  out.push(`<g stroke="#e6e6e6" stroke-width="1">`);
  for (const v of yTicks)
    out.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${r(sy(v))}" y2="${r(sy(v))}"/>`);
  for (const v of xTicks)
    out.push(`<line x1="${r(sx(v))}" x2="${r(sx(v))}" y1="${m.top}" y2="${m.top + ph}"/>`);
  out.push("</g>");
  out.push(`<g fill="#444" font-size="11">`);
  for (const v of yTicks) {
    out.push(`<text x="${m.left - 6}" y="${r(sy(v) + 4)}" text-anchor="end">${escapeXml(yf(v))}</text>`);
  }
  for (const v of xTicks) {
    out.push(`<text x="${r(sx(v))}" y="${m.top + ph + 16}" text-anchor="middle">${escapeXml(xf(v))}</text>`);
  }
  out.push("</g>");
  out.push(
    `<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`,
    `<text x="${m.left + pw / 2}" y="${height - 14}" text-anchor="middle" font-size="12.5" fill="#222">${escapeXml(o.xLabel)}</text>`,
    `<text transform="translate(18 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle" font-size="12.5" fill="#222">${escapeXml(o.yLabel)}</text>`,
  );
  if (o.yRule && o.yRule.value >= y0 && o.yRule.value <= y1) {
    const y = r(sy(o.yRule.value));
    out.push(
      `<line x1="${m.left}" x2="${m.left + pw}" y1="${y}" y2="${y}" stroke="#888" stroke-dasharray="3 3"/>`,
      `<text x="${m.left + 4}" y="${Number(y) - 4}" font-size="11" fill="#666">${escapeXml(o.yRule.label)}</text>`,
    );
  }
  // Lines, clipped to the plot so an exploding run stays inside.
  const clip = `clip${Math.abs(hash(o.title + o.xLabel + o.yLabel))}`;
  out.push(
    `<clipPath id="${clip}"><rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}"/></clipPath>`,
    `<g clip-path="url(#${clip})" fill="none" stroke-width="2" stroke-linejoin="round">`,
  );
  for (const s of o.series) {
    for (const seg of segments(s.points, logY)) {
      const d = seg.map(([x, y], i) => `${i ? "L" : "M"}${r(sx(x))} ${r(sy(y))}`).join("");
      out.push(`<path d="${d}" stroke="${s.color}"${s.dash ? ` stroke-dasharray="${s.dash}"` : ""}/>`);
      // A lone point draws no line; show it as a dot.
      if (seg.length === 1 && !s.markers) {
        out.push(`<circle cx="${r(sx(seg[0][0]))}" cy="${r(sy(seg[0][1]))}" r="2.5" fill="${s.color}"/>`);
      }
    }
    if (s.markers) {
      for (const [x, y] of s.points) {
        if (Number.isFinite(y) && !(logY && y <= 0))
          out.push(`<circle cx="${r(sx(x))}" cy="${r(sy(y))}" r="3" fill="${s.color}"/>`);
      }
    }
  }
  out.push("</g>");
  // Legend: one row (or more) between the title and the plot, so it never hides a line.
  out.push(`<g font-size="11.5">`);
  for (const it of legend.items) {
    out.push(
      `<line x1="${r(it.x)}" x2="${r(it.x + 22)}" y1="${r(it.y)}" y2="${r(it.y)}" stroke="${it.s.color}" stroke-width="2.5"${it.s.dash ? ` stroke-dasharray="${it.s.dash}"` : ""}/>`,
      `<text x="${r(it.x + 28)}" y="${r(it.y + 4)}" fill="#222">${escapeXml(it.s.name)}</text>`,
    );
  }
  out.push("</g></svg>");
  return out.join("\n");
}

/** Legend entries laid out in centred rows of at most the chart's width (about 6.4 px per character). */
function layoutLegend(series: readonly Series[], width: number, top: number) {
  const widths = series.map((s) => 36 + s.name.length * 6.4);
  const rows: number[][] = [[]];
  let used = 0;
  widths.forEach((w, i) => {
    if (used + w > width - 40 && rows.at(-1)!.length) {
      rows.push([]);
      used = 0;
    }
    rows.at(-1)!.push(i);
    used += w;
  });
  const items: { s: Series; x: number; y: number }[] = [];
  rows.forEach((row, k) => {
    const total = row.reduce((a, i) => a + widths[i], 0);
    let x = (width - total) / 2;
    for (const i of row) {
      items.push({ s: series[i], x, y: top + 6 + k * 18 });
      x += widths[i];
    }
  });
  return { items, height: series.length ? rows.length * 18 : 0 };
}

/** Runs of consecutive finite points; a non-finite y value ends a run. */
function segments(
  points: readonly (readonly [number, number])[],
  logY = false,
): (readonly [number, number])[][] {
  const segs: (readonly [number, number])[][] = [];
  let cur: (readonly [number, number])[] = [];
  for (const p of points) {
    if (Number.isFinite(p[0]) && Number.isFinite(p[1]) && !(logY && p[1] <= 0)) cur.push(p);
    else if (cur.length) {
      segs.push(cur);
      cur = [];
    }
  }
  if (cur.length) segs.push(cur);
  return segs;
}

function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  // Over many decades 1-2-5 ticks would crowd the axis: powers of ten only.
  const mults = Math.log10(hi / Math.max(lo, 1e-12)) > 3 ? [1] : [1, 2, 5];
  for (let e = Math.floor(Math.log10(Math.max(lo, 1e-12))); 10 ** e <= hi; e++) {
    for (const m of mults) {
      const v = m * 10 ** e;
      if (v >= lo && v <= hi) ticks.push(v);
    }
  }
  return ticks;
}

function hash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}
