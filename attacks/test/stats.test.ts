// The report's statistics against values computed by hand and published references:
// Wilson 8/10 = [0.4901625, 0.9433178] (R: binom::binom.confint(8, 10, methods = "wilson")); exact McNemar
// b=10, c=2 is 2 * (C(12,0) + C(12,1) + C(12,2)) / 2^12 = 158/4096 by hand; b=5, c=20 is 0.004077315
// (R: binom.test(5, 25)$p.value); Holm on [0.01, 0.04, 0.03] is [0.03, 0.06, 0.06] by hand.
import { describe, expect, it } from "vitest";
import { bootstrap, holm, mcnemarExact, wilson } from "../stats";

describe("wilson", () => {
  it("matches R's binom.confint for 8/10 and the hand value for 0/10", () => {
    const [lo, hi] = wilson(8, 10);
    expect(lo).toBeCloseTo(0.4901625, 6);
    expect(hi).toBeCloseTo(0.9433178, 6);
    expect(wilson(0, 10)[0]).toBe(0);
    expect(wilson(0, 10)[1]).toBeCloseTo(0.2775328, 6);
  });

  it("always contains the observed proportion and stays in [0, 1]", () => {
    for (const [k, n] of [
      [0, 1],
      [1, 1],
      [3, 7],
      [45, 60],
      [999, 1000],
    ]) {
      const [lo, hi] = wilson(k, n);
      expect(lo).toBeLessThanOrEqual(k / n);
      expect(hi).toBeGreaterThanOrEqual(k / n);
      expect(lo).toBeGreaterThanOrEqual(0);
      expect(hi).toBeLessThanOrEqual(1);
    }
  });
});

describe("mcnemarExact", () => {
  it("matches the hand and R values", () => {
    expect(mcnemarExact(10, 2)).toBeCloseTo(158 / 4096, 12);
    expect(mcnemarExact(5, 20)).toBeCloseTo(0.004077315, 9);
    expect(mcnemarExact(0, 5)).toBeCloseTo(2 / 32, 12);
  });

  it("is symmetric, 1 without discordant pairs, capped at 1 when balanced", () => {
    expect(mcnemarExact(2, 10)).toBe(mcnemarExact(10, 2));
    expect(mcnemarExact(0, 0)).toBe(1);
    expect(mcnemarExact(3, 3)).toBe(1);
  });

  it("stays finite for large counts (log-space binomials)", () => {
    const p = mcnemarExact(480, 520);
    expect(p).toBeGreaterThan(0.2);
    expect(p).toBeLessThan(0.25);
  });
});

describe("holm", () => {
  it("matches the hand-computed adjustment, in the input order", () => {
    const adj = holm([0.01, 0.04, 0.03]);
    expect(adj[0]).toBeCloseTo(0.03, 12);
    expect(adj[1]).toBeCloseTo(0.06, 12);
    expect(adj[2]).toBeCloseTo(0.06, 12);
  });

  it("never lowers a p-value and never passes 1", () => {
    const ps = [0.2, 0.001, 0.5, 0.04, 0.9];
    holm(ps).forEach((a, i) => {
      expect(a).toBeGreaterThanOrEqual(ps[i]);
      expect(a).toBeLessThanOrEqual(1);
    });
  });
});

describe("bootstrap", () => {
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

  it("is reproducible for a seed and brackets the sample mean", () => {
    const xs = Array.from({ length: 50 }, (_, i) => (i * 37) % 11);
    expect(bootstrap(xs, mean, 500, 1)).toEqual(bootstrap(xs, mean, 500, 1));
    const [lo, hi] = bootstrap(xs, mean, 500, 1);
    expect(lo).toBeLessThan(mean(xs));
    expect(hi).toBeGreaterThan(mean(xs));
  });

  it("collapses to the value when every item is the same", () => {
    expect(bootstrap([3, 3, 3, 3], mean)).toEqual([3, 3]);
  });
});
