// The report's charts as inline SVG strings (no script, no network): a variants x attacks heat map, PDR bars
// with interval whiskers, and the k-sweep curve with its interval band. Hover titles give exact values.
import type { Stat, Summary } from "../summary";
import { num, pct, withCi } from "./format";

export const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** White (bad) to blue (good); for perplexity, lower is better, scaled between the task's min and max. */
function colour(t: number): string {
  const x = Math.max(0, Math.min(1, t));
  return `rgb(${Math.round(255 - 200 * x)},${Math.round(255 - 130 * x)},${Math.round(255 - 40 * x)})`;
}

export function heatmap(s: Summary, task: string): string {
  const st = s.stats.filter((x) => x.task === task);
  const metric = st[0]?.metric ?? "acc";
  const vals = st.map((x) => x.value).filter(Number.isFinite);
  const [lo, hi] = [Math.min(...vals), Math.max(...vals)];
  const norm = (v: number) => (metric === "ppl" ? (hi === lo ? 1 : (hi - v) / (hi - lo)) : v);
  const cw = 120,
    ch = 28,
    left = 150,
    top = 90;
  const w = left + cw * s.attacks.length + 10,
    h = top + ch * s.variants.length + 10;
  const parts = [
    `<svg class="heatmap" role="img" aria-label="heat map ${esc(task)}" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">`,
  ];
  s.attacks.forEach((a, j) =>
    parts.push(
      `<text x="${left + cw * j + cw / 2}" y="${top - 8}" transform="rotate(-25 ${left + cw * j + cw / 2} ${top - 8})" font-size="11">${esc(a)}</text>`,
    ),
  );
  s.variants.forEach((v, i) => {
    parts.push(
      `<text x="${left - 6}" y="${top + ch * i + 18}" text-anchor="end" font-size="12">${esc(v)}</text>`,
    );
    s.attacks.forEach((a, j) => {
      const x = st.find((y) => y.variant === v && y.attack === a);
      const fill = x ? colour(norm(x.value)) : "#eee";
      const label = x ? (metric === "ppl" ? num(x.value, 1) : pct(x.value)) : "-";
      const tip = x ? `${v} / ${a}: ${withCi(metric, x.value, x.ci)} (n=${x.n})` : `${v} / ${a}: no rows`;
      parts.push(
        `<g class="cell"><title>${esc(tip)}</title><rect x="${left + cw * j}" y="${top + ch * i}" width="${cw - 2}" height="${ch - 2}" fill="${fill}"/>` +
          `<text x="${left + cw * j + cw / 2}" y="${top + ch * i + 18}" text-anchor="middle" font-size="12">${label}</text></g>`,
      );
    });
  });
  parts.push("</svg>");
  return parts.join("");
}

export function pdrBars(s: Summary, task: string): string {
  const st = s.stats.filter(
    (x): x is Stat & { pdr: number } => x.task === task && x.pdr !== undefined && Number.isFinite(x.pdr),
  );
  if (!st.length) return "";
  const bw = 16,
    gap = 10,
    left = 50,
    top = 20,
    hgt = 180;
  const ext = [0, ...st.flatMap((x) => [x.pdr, ...(x.pdr_ci ?? [])])].filter(Number.isFinite);
  const [lo, hi] = [Math.min(...ext), Math.max(...ext, 0.01)];
  const y = (v: number) => top + hgt - ((v - lo) / (hi - lo || 1)) * hgt;
  const w = left + st.length * (bw + gap) + 20,
    h = top + hgt + 120;
  const parts = [
    `<svg class="pdr" role="img" aria-label="PDR ${esc(task)}" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">`,
  ];
  parts.push(`<line x1="${left}" x2="${w - 10}" y1="${y(0)}" y2="${y(0)}" stroke="#333"/>`);
  for (const t of [lo, 0, hi])
    parts.push(`<text x="${left - 4}" y="${y(t) + 4}" text-anchor="end" font-size="10">${pct(t)}</text>`);
  st.forEach((x, i) => {
    const cx = left + i * (bw + gap) + gap;
    const [a, b] = [y(Math.max(0, x.pdr)), y(Math.min(0, x.pdr))];
    const tip = `${x.variant} / ${x.attack}: ${pct(x.pdr)}% [${pct(x.pdr_ci?.[0])}, ${pct(x.pdr_ci?.[1])}]`;
    parts.push(
      `<g class="bar"><title>${esc(tip)}</title><rect x="${cx}" y="${a}" width="${bw}" height="${Math.max(1, b - a)}" fill="#4a7fc1"/>`,
    );
    if (x.pdr_ci && x.pdr_ci.every(Number.isFinite))
      parts.push(
        `<line x1="${cx + bw / 2}" x2="${cx + bw / 2}" y1="${y(x.pdr_ci[0])}" y2="${y(x.pdr_ci[1])}" stroke="#000"/>`,
      );
    parts.push(
      `<text x="${cx + bw / 2}" y="${top + hgt + 10}" transform="rotate(60 ${cx + bw / 2} ${top + hgt + 10})" font-size="9">${esc(`${x.variant} ${x.attack}`.slice(0, 28))}</text></g>`,
    );
  });
  parts.push("</svg>");
  return parts.join("");
}

export function kSweepCurve(
  points: { k: number; value: number; ci: [number, number] }[],
  metric: string,
): string {
  if (points.length < 2) return "";
  const left = 50,
    top = 20,
    wid = 360,
    hgt = 180;
  const ks = points.map((p) => p.k);
  const ys = points.flatMap((p) => [p.value, ...p.ci]).filter(Number.isFinite);
  const [k0, k1, y0, y1] = [Math.min(...ks), Math.max(...ks), Math.min(...ys), Math.max(...ys)];
  const X = (k: number) => left + ((k - k0) / (k1 - k0 || 1)) * wid;
  const Y = (v: number) => top + hgt - ((v - y0) / (y1 - y0 || 1)) * hgt;
  const band = [
    ...points.map((p) => `${X(p.k)},${Y(p.ci[1])}`),
    ...[...points].reverse().map((p) => `${X(p.k)},${Y(p.ci[0])}`),
  ].join(" ");
  const line = points.map((p) => `${X(p.k)},${Y(p.value)}`).join(" ");
  const fmt = (v: number) => (metric === "ppl" ? num(v, 1) : pct(v));
  return (
    `<svg class="ksweep" role="img" aria-label="k sweep" width="${left + wid + 30}" height="${top + hgt + 40}">` +
    `<polygon points="${band}" fill="#4a7fc1" opacity="0.2"/><polyline points="${line}" fill="none" stroke="#4a7fc1" stroke-width="2"/>` +
    points
      .map(
        (p) =>
          `<circle cx="${X(p.k)}" cy="${Y(p.value)}" r="3"><title>k=${p.k}: ${fmt(p.value)}</title></circle><text x="${X(p.k)}" y="${top + hgt + 16}" text-anchor="middle" font-size="10">${p.k}</text>`,
      )
      .join("") +
    `<text x="${left + wid / 2}" y="${top + hgt + 34}" text-anchor="middle" font-size="11">k (massive rows zeroed; 0 = base)</text>` +
    `<text x="${left - 4}" y="${Y(y1) + 4}" text-anchor="end" font-size="10">${fmt(y1)}</text><text x="${left - 4}" y="${Y(y0) + 4}" text-anchor="end" font-size="10">${fmt(y0)}</text></svg>`
  );
}
