// Number formatting shared by the Markdown and HTML reports, and what both say besides the summary.
import type { Regression } from "../regression";

/** Wall time and target; `regression`: the significant regressions against an earlier run (none: []). */
export type ReportMeta = {
  seconds?: number;
  target?: string;
  regression?: { against: string; list: Regression[] };
};

export const pct = (x: number | undefined) =>
  x === undefined || !Number.isFinite(x) ? "-" : `${(100 * x).toFixed(1)}`;
export const num = (x: number | undefined, d = 2) =>
  x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(d);
export const pval = (p: number) => (p < 0.001 ? p.toExponential(1) : p.toFixed(3));

/** "73.0 [61.2, 82.3]" for a rate, "31.69 [30.1, 33.0]" for a perplexity. */
export function withCi(metric: string, v: number, ci: [number, number]): string {
  return metric === "ppl"
    ? `${num(v)} [${num(ci[0])}, ${num(ci[1])}]`
    : `${pct(v)} [${pct(ci[0])}, ${pct(ci[1])}]`;
}
