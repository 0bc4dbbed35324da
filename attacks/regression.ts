// --fail-on-regression BASELINE: is any variant significantly worse now than in a baseline run of the same
// campaign? Rows are paired by (task, attack, variant, item, seed, repetition); for each (task, attack,
// variant) with a binary metric, McNemar's exact test of baseline against now, Holm over the family.
import { holm, mcnemarExact } from "./stats";
import type { ResultRow } from "./types";

export type Regression = {
  task: string;
  attack: string;
  variant: string;
  n: number;
  lost: number;
  gained: number;
  p: number;
  p_holm: number;
};

export function regressions(baseline: ResultRow[], now: ResultRow[], alpha = 0.05): Regression[] {
  const key = (r: ResultRow) => `${r.task}|${r.attack}|${r.variant}|${r.case_id}|${r.seed}|${r.repeat}`;
  const s = (r: ResultRow) => (r.error ? 0 : (r.score ?? 0));
  const base = new Map(baseline.filter((r) => r.metric !== "ppl").map((r) => [key(r), r]));
  const groups = new Map<string, Regression>();
  for (const r of now) {
    const b = base.get(key(r));
    if (!b || r.metric === "ppl") continue;
    const g = `${r.task}|${r.attack}|${r.variant}`;
    const x = groups.get(g) ?? {
      task: r.task,
      attack: r.attack,
      variant: r.variant,
      n: 0,
      lost: 0,
      gained: 0,
      p: 1,
      p_holm: 1,
    };
    x.n++;
    if (s(b) === 1 && s(r) === 0) x.lost++;
    if (s(b) === 0 && s(r) === 1) x.gained++;
    groups.set(g, x);
  }
  const all = [...groups.values()];
  all.forEach((x) => (x.p = mcnemarExact(x.lost, x.gained)));
  const adj = holm(all.map((x) => x.p));
  all.forEach((x, i) => (x.p_holm = adj[i]));
  return all.filter((x) => x.p_holm <= alpha && x.lost > x.gained);
}
