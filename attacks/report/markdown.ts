// The Markdown report (a pure function of a Summary): per task a variants x attacks table of the score with
// its 95% interval, the drop under each attack (PDR with a bootstrap interval, and the attack success
// rate), then every McNemar comparison against the baseline variant, then the k sweep.
import type { Summary } from "../summary";
import { num, pct, pval, withCi, type ReportMeta } from "./format";

const METRIC: Record<string, string> = {
  acc: "accuracy, % (acc; lm-eval's acc_norm in the JSON)",
  ppl: "perplexity (corpus, rolling)",
  exact: "exact-answer accuracy, %",
  canary: "injection resisted (canary absent), %",
  refusal: "refused, %",
};

export function markdown(s: Summary, meta: ReportMeta = {}): string {
  const out = [`# Attack campaign "${s.campaign}"`, ""];
  out.push(
    `${s.rows} rows (${s.errors} errors, counted as not resisted)${meta.target ? `; target ${meta.target}` : ""}${meta.seconds !== undefined ? `; wall time ${meta.seconds.toFixed(1)} s` : ""}.`,
    "",
  );
  if (meta.regression) {
    const { against, list } = meta.regression;
    out.push(
      list.length
        ? `**Regression** against the previous run ${against}: ${list.map((r) => `${r.variant} under ${r.attack} on ${r.task} lost ${r.lost} items, gained ${r.gained} (McNemar p ${pval(r.p)}, Holm ${pval(r.p_holm)})`).join("; ")}.`
        : `No significant regression against the previous run ${against} (McNemar exact, Holm).`,
      "",
    );
  }
  for (const t of s.tasks) {
    const st = s.stats.filter((x) => x.task === t);
    const metric = st[0]?.metric ?? "acc";
    out.push(`## ${t}: ${METRIC[metric] ?? metric}, 95% interval`, "");
    out.push(`| variant | ${s.attacks.join(" | ")} |`, `|---|${s.attacks.map(() => "---").join("|")}|`);
    for (const v of s.variants) {
      const cells = s.attacks.map((a) => {
        const x = st.find((y) => y.variant === v && y.attack === a);
        return x ? withCi(metric, x.value, x.ci) : "-";
      });
      out.push(`| ${v} | ${cells.join(" | ")} |`);
    }
    const attacked = s.attacks.filter((a) => a !== "clean");
    if (attacked.length) {
      out.push(
        "",
        metric === "ppl"
          ? "Perplexity change under attack, % [bootstrap 95%]:"
          : "Performance drop rate, % [bootstrap 95%] / attack success rate, %:",
        "",
      );
      out.push(`| variant | ${attacked.join(" | ")} |`, `|---|${attacked.map(() => "---").join("|")}|`);
      for (const v of s.variants) {
        const cells = attacked.map((a) => {
          const x = st.find((y) => y.variant === v && y.attack === a);
          if (!x || x.pdr === undefined) return "-";
          return `${pct(x.pdr)} [${pct(x.pdr_ci?.[0])}, ${pct(x.pdr_ci?.[1])}]${x.asr !== undefined ? ` / ${pct(x.asr)}` : ""}`;
        });
        out.push(`| ${v} | ${cells.join(" | ")} |`);
      }
    }
    out.push("");
  }
  if (s.comparisons.length) {
    out.push(
      `## Variants against ${s.comparisons[0].baseline} on the same items (McNemar exact, Holm over ${s.comparisons.length})`,
      "",
    );
    out.push(
      "| task | attack | variant | n | base right only | variant right only | p | p (Holm) | verdict |",
      "|---|---|---|---|---|---|---|---|---|",
    );
    for (const c of s.comparisons)
      out.push(
        `| ${c.task} | ${c.attack} | ${c.variant} | ${c.n} | ${c.b} | ${c.c} | ${pval(c.p)} | ${pval(c.p_holm)} | ${c.worse ? "**worse**" : c.p_holm <= 0.05 ? "better" : "no significant difference"} |`,
      );
    out.push("");
  }
  for (const k of s.k_sweep) {
    out.push(`## k sweep (${k.mode}, ${k.task}, clean)`, "", "| k | variant | value |", "|---|---|---|");
    for (const p of k.points)
      out.push(
        `| ${p.k} | ${p.variant} | ${withCi(s.stats.find((x) => x.task === k.task)?.metric ?? "acc", p.value, p.ci)} |`,
      );
    out.push("");
  }
  return out.join("\n");
}

export { num };
