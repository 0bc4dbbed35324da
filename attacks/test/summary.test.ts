// Reports from hand-made rows: accuracy, PDR and ASR as defined, errors counted as not resisted, McNemar
// on the paired items with Holm, the k sweep ordered by k, and --fail-on-regression's verdict.
import { describe, expect, it } from "vitest";
import { regressions } from "../regression";
import { html } from "../report/html";
import { markdown } from "../report/markdown";
import { mcnemarExact } from "../stats";
import { summarise } from "../summary";
import type { ResultRow } from "../types";

function rows(variant: string, attack: string, scores: (number | null)[]): ResultRow[] {
  return scores.map((s, i) => ({
    campaign: "c",
    cell_key: `${variant}|${attack}|t/${i}`,
    case_id: `t/${i}`,
    task: "t",
    attack,
    variant,
    seed: 0,
    repeat: 0,
    prompt_hash: "h",
    output: "",
    score: s,
    metric: "acc",
    judge: null,
    raw: JSON.stringify({ acc_norm: s ?? 0 }),
    error: s === null ? "boom" : null,
    latency_ms: 1,
    ts: "",
  }));
}

const ones = (n: number) => Array(n).fill(1);
const zeros = (n: number) => Array(n).fill(0);

describe("summarise", () => {
  // base: 10/10 clean, 6/10 under typos; zero-k3: 8/10 clean (two lost), 2 errors under typos.
  const data = [
    ...rows("base", "clean", ones(10)),
    ...rows("base", "typo", [...ones(6), ...zeros(4)]),
    ...rows("zero-k3", "clean", [...ones(8), 0, 0]),
    ...rows("zero-k3", "typo", [...ones(6), null, null, 0, 0]),
  ];
  const s = summarise("c", data);
  const get = (v: string, a: string) => s.stats.find((x) => x.variant === v && x.attack === a)!;

  it("accuracy, PDR and ASR as defined; an error counts as wrong", () => {
    expect(get("base", "typo").value).toBeCloseTo(0.6);
    expect(get("base", "typo").pdr).toBeCloseTo(1 - 0.6 / 1.0);
    expect(get("base", "typo").asr).toBeCloseTo(4 / 10);
    expect(get("zero-k3", "typo")).toMatchObject({ errors: 2, value: 0.6 });
    expect(get("zero-k3", "typo").pdr).toBeCloseTo(1 - 0.6 / 0.8);
    expect(get("zero-k3", "typo").asr).toBeCloseTo(2 / 8);
  });

  it("McNemar compares each variant with the baseline on the same items, Holm over the family", () => {
    const clean = s.comparisons.find((c) => c.attack === "clean")!;
    expect(clean).toMatchObject({ variant: "zero-k3", baseline: "base", n: 10, b: 2, c: 0 });
    expect(clean.p).toBeCloseTo(mcnemarExact(2, 0));
    expect(clean.p_holm).toBeCloseTo(Math.min(1, 2 * Math.min(...s.comparisons.map((x) => x.p))), 12);
  });

  it("k sweep: base is k = 0, then zero-k<k> in order of k", () => {
    expect(s.k_sweep[0].points.map((p) => [p.k, p.variant])).toEqual([
      [0, "base"],
      [3, "zero-k3"],
    ]);
  });

  it("renders Markdown and self-contained HTML (no script, no external reference)", () => {
    expect(markdown(s)).toMatch(/\| base \| 100\.0 \[72\.2, 100\.0\] \| 60\.0/);
    const page = html(s);
    expect(page).not.toMatch(/<script|https?:\/\//);
    expect(page.match(/<svg class="heatmap"/g)).toHaveLength(1);
  });
});

describe("--fail-on-regression", () => {
  it("flags a variant that significantly lost items against the baseline run, and only then", () => {
    const before = rows("base", "clean", ones(12));
    const worse = rows("base", "clean", [...zeros(10), 1, 1]);
    const same = rows("base", "clean", [...ones(11), 0]);
    expect(regressions(before, worse)).toMatchObject([{ variant: "base", lost: 10, gained: 0 }]);
    expect(regressions(before, same)).toEqual([]);
  });
});
