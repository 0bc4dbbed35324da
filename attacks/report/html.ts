// One self-contained HTML page (no script, no network, inline CSS and SVG): per task the heat map and PDR
// bars, the k-sweep curves, then the full Markdown-equivalent tables for exact numbers.
import type { Summary } from "../summary";
import { esc, heatmap, kSweepCurve, pdrBars } from "./charts";
import { pval, withCi, type ReportMeta } from "./format";

export function html(s: Summary, meta: ReportMeta = {}): string {
  const body: string[] = [`<h1>Attack campaign “${esc(s.campaign)}”</h1>`];
  body.push(
    `<p>${s.rows} rows, ${s.errors} errors (an error counts as not resisted)${meta.target ? `; target ${esc(meta.target)}` : ""}${meta.seconds !== undefined ? `; wall time ${meta.seconds.toFixed(1)} s` : ""}. Intervals are 95%: Wilson for rates, per-item bootstrap for perplexity and drops.</p>`,
  );
  if (meta.regression) {
    const { against, list } = meta.regression;
    body.push(
      list.length
        ? `<p class="regression"><strong>Regression</strong> against the previous run ${esc(against)}: ${list.map((r) => esc(`${r.variant} under ${r.attack} on ${r.task} lost ${r.lost} items, gained ${r.gained} (McNemar p ${pval(r.p)}, Holm ${pval(r.p_holm)})`)).join("; ")}.</p>`
        : `<p class="no-regression">No significant regression against the previous run ${esc(against)} (McNemar exact, Holm).</p>`,
    );
  }
  for (const t of s.tasks) {
    const st = s.stats.filter((x) => x.task === t);
    const metric = st[0]?.metric ?? "acc";
    body.push(`<section class="task"><h2>${esc(t)} <small>(${esc(metric)})</small></h2>`, heatmap(s, t));
    const bars = pdrBars(s, t);
    if (bars)
      body.push(
        `<h3>${metric === "ppl" ? "Perplexity change" : "Performance drop rate"} under attack</h3>`,
        bars,
      );
    body.push("<table><tr><th>variant</th>" + s.attacks.map((a) => `<th>${esc(a)}</th>`).join("") + "</tr>");
    for (const v of s.variants)
      body.push(
        `<tr><th>${esc(v)}</th>` +
          s.attacks
            .map((a) => {
              const x = st.find((y) => y.variant === v && y.attack === a);
              return `<td>${x ? esc(withCi(metric, x.value, x.ci)) : "-"}</td>`;
            })
            .join("") +
          "</tr>",
      );
    body.push("</table></section>");
  }
  for (const k of s.k_sweep) {
    const metric = s.stats.find((x) => x.task === k.task)?.metric ?? "acc";
    body.push(
      `<section><h2>k sweep: ${esc(k.task)} (${esc(k.mode)})</h2>${kSweepCurve(k.points, metric)}</section>`,
    );
  }
  if (s.comparisons.length) {
    body.push(
      `<section><h2>Variants against ${esc(s.comparisons[0].baseline)} (McNemar exact, Holm)</h2><table><tr><th>task</th><th>attack</th><th>variant</th><th>n</th><th>base only</th><th>variant only</th><th>p</th><th>p (Holm)</th><th>verdict</th></tr>`,
    );
    for (const c of s.comparisons)
      body.push(
        `<tr${c.worse ? ' class="worse"' : ""}><td>${esc(c.task)}</td><td>${esc(c.attack)}</td><td>${esc(c.variant)}</td><td>${c.n}</td><td>${c.b}</td><td>${c.c}</td><td>${pval(c.p)}</td><td>${pval(c.p_holm)}</td><td>${c.worse ? "worse" : c.p_holm <= 0.05 ? "better" : "n.s."}</td></tr>`,
      );
    body.push("</table></section>");
  }
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(s.campaign)}: attack report</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 6px;font-size:12px}tr.worse{background:#fdd}p.regression{background:#fdd;padding:.5em}svg{display:block;margin:1em 0}section{margin-bottom:2em}</style>
</head><body>${body.join("\n")}</body></html>`;
}
