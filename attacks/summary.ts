// Rows -> the numbers of a report (a pure function): per task x variant x attack the score with a Wilson
// interval (binary metrics) or the corpus perplexity with a bootstrap interval; the Performance Drop Rate
// (1 - attacked/clean, PromptBench) and the attack success rate (share of clean-right items the attack
// turns wrong) with per-item bootstrap intervals; McNemar's exact test of every variant against the
// baseline variant on the same items, Holm-adjusted over the whole family; and the k-sweep curve.
// An error row scores 0: it never counts as resisted.
import { bootstrap, holm, mcnemarExact, wilson } from "./stats";
import { corpusPerplexity } from "./tasks/perplexity";
import type { ResultRow } from "./types";

export type Stat = {
  task: string;
  variant: string;
  attack: string;
  metric: string;
  n: number;
  errors: number;
  value: number; // mean score, or corpus perplexity for "ppl"
  ci: [number, number];
  acc_norm?: number; // multiple choice only
  pdr?: number; // 1 - attacked/clean (for ppl: attacked/clean - 1, the relative perplexity change)
  pdr_ci?: [number, number];
  asr?: number; // binary metrics: clean-right items the attack turns wrong
};
export type Comparison = {
  task: string;
  attack: string;
  variant: string;
  baseline: string;
  n: number;
  b: number; // baseline right, variant wrong
  c: number; // baseline wrong, variant right
  p: number;
  p_holm: number;
  worse: boolean; // significantly worse than the baseline (Holm, alpha 0.05)
};
export type Summary = {
  campaign: string;
  tasks: string[];
  variants: string[];
  attacks: string[];
  stats: Stat[];
  comparisons: Comparison[];
  k_sweep: {
    task: string;
    mode: string;
    points: { k: number; variant: string; value: number; ci: [number, number] }[];
  }[];
  rows: number;
  errors: number;
};

const pairKey = (r: ResultRow) => `${r.case_id}|${r.seed}|${r.repeat}`;
const uniq = (xs: string[]) => [...new Set(xs)];
const score = (r: ResultRow) => (r.error ? 0 : (r.score ?? 0));
const lpOf = (r: ResultRow) => (r.raw ? (JSON.parse(r.raw) as { logprob: number; tokens: number }) : null);
const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

function valueOf(metric: string, rows: ResultRow[]): number {
  if (metric !== "ppl") return mean(rows.map(score));
  return corpusPerplexity(rows.flatMap((r) => lpOf(r) ?? []));
}

export function summarise(campaign: string, rows: ResultRow[], baseline = "base"): Summary {
  const tasks = uniq(rows.map((r) => r.task));
  const variants = uniq(rows.map((r) => r.variant));
  const attacks = uniq(["clean", ...rows.map((r) => r.attack)]).filter((a) =>
    rows.some((r) => r.attack === a),
  );
  const group = new Map<string, ResultRow[]>();
  for (const r of rows) {
    const k = `${r.task}\u0000${r.variant}\u0000${r.attack}`;
    group.set(k, [...(group.get(k) ?? []), r]);
  }
  const get = (t: string, v: string, a: string) => group.get(`${t}\u0000${v}\u0000${a}`) ?? [];
  const stats: Stat[] = [];
  for (const t of tasks)
    for (const v of variants)
      for (const a of attacks) {
        const rs = get(t, v, a);
        if (!rs.length) continue;
        const metric = rs[0].metric;
        const value = valueOf(metric, rs);
        const ci =
          metric === "ppl"
            ? bootstrap(rs, (xs) => valueOf("ppl", xs))
            : wilson(
                rs.reduce((s, r) => s + score(r), 0),
                rs.length,
              );
        const st: Stat = {
          task: t,
          variant: v,
          attack: a,
          metric,
          n: rs.length,
          errors: rs.filter((r) => r.error).length,
          value,
          ci,
        };
        if (metric === "acc")
          st.acc_norm = mean(rs.map((r) => (r.raw ? (JSON.parse(r.raw).acc_norm as number) : 0)));
        const clean = new Map(get(t, v, "clean").map((r) => [pairKey(r), r]));
        const pairs = rs.flatMap((r) =>
          clean.has(pairKey(r)) ? [[clean.get(pairKey(r))!, r] as const] : [],
        );
        if (a !== "clean" && pairs.length) {
          const drop = (ps: (readonly [ResultRow, ResultRow])[]) => {
            const before = valueOf(
              metric,
              ps.map((p) => p[0]),
            );
            const after = valueOf(
              metric,
              ps.map((p) => p[1]),
            );
            return metric === "ppl" ? after / before - 1 : 1 - after / before;
          };
          st.pdr = drop(pairs);
          st.pdr_ci = bootstrap(pairs, drop);
          if (metric !== "ppl") {
            const right = pairs.filter((p) => score(p[0]) === 1);
            st.asr = right.length ? right.filter((p) => score(p[1]) === 0).length / right.length : NaN;
          }
        }
        stats.push(st);
      }
  const comparisons: Comparison[] = [];
  for (const t of tasks)
    for (const a of attacks)
      for (const v of variants) {
        if (v === baseline) continue;
        const base = new Map(get(t, baseline, a).map((r) => [pairKey(r), r]));
        const rs = get(t, v, a).filter((r) => base.has(pairKey(r)));
        if (!rs.length || rs[0].metric === "ppl") continue;
        let b = 0,
          c = 0;
        for (const r of rs) {
          const s0 = score(base.get(pairKey(r))!);
          const s1 = score(r);
          if (s0 === 1 && s1 === 0) b++;
          if (s0 === 0 && s1 === 1) c++;
        }
        comparisons.push({
          task: t,
          attack: a,
          variant: v,
          baseline,
          n: rs.length,
          b,
          c,
          p: mcnemarExact(b, c),
          p_holm: NaN,
          worse: false,
        });
      }
  const adj = holm(comparisons.map((x) => x.p));
  comparisons.forEach((x, i) => ((x.p_holm = adj[i]), (x.worse = adj[i] <= 0.05 && x.b > x.c)));
  const k_sweep: Summary["k_sweep"] = [];
  for (const t of tasks)
    for (const mode of ["zero", "retain"]) {
      const sweep = variants.flatMap((v) => {
        const m = new RegExp(`^${mode}-k(\\d+)$`).exec(v);
        return m ? [{ k: Number(m[1]), variant: v }] : [];
      });
      if (!sweep.length) continue;
      const points = [{ k: 0, variant: baseline }, ...sweep]
        .map((p) => ({
          ...p,
          st: stats.find((s) => s.task === t && s.variant === p.variant && s.attack === "clean"),
        }))
        .filter((p) => p.st)
        .map((p) => ({ k: p.k, variant: p.variant, value: p.st!.value, ci: p.st!.ci }))
        .sort((x, y) => x.k - y.k);
      k_sweep.push({ task: t, mode, points });
    }
  return {
    campaign,
    tasks,
    variants,
    attacks,
    stats,
    comparisons,
    k_sweep,
    rows: rows.length,
    errors: rows.filter((r) => r.error).length,
  };
}
