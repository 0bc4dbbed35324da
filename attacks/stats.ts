// The statistics of the reports, as small exact functions (each tested against hand-computed and
// reference values in test/attacks/stats.test.ts):
// - Wilson score interval for a proportion (Wilson 1927), the interval for accuracies and success rates;
// - McNemar's exact test for paired binary outcomes (two-sided binomial on the discordant pairs);
// - Holm's step-down adjustment over a family of p-values (Holm 1979);
// - a percentile bootstrap over items, seeded, for statistics that are not proportions (PDR, perplexity).
import { rng } from "./rng";

export const Z95 = 1.959963984540054;

export function wilson(k: number, n: number, z = Z95): [number, number] {
  if (n === 0) return [NaN, NaN];
  const p = k / n;
  const denom = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / denom;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/** log of n choose k, exact enough for n up to millions. */
function logChoose(n: number, k: number): number {
  let s = 0;
  for (let i = 1; i <= k; i++) s += Math.log(n - k + i) - Math.log(i);
  return s;
}

/** Two-sided exact McNemar p: b = pairs right only under A, c = right only under B. */
export function mcnemarExact(b: number, c: number): number {
  const n = b + c;
  if (n === 0) return 1;
  const m = Math.min(b, c);
  let tail = 0;
  for (let i = 0; i <= m; i++) tail += Math.exp(logChoose(n, i) - n * Math.LN2);
  return Math.min(1, 2 * tail);
}

/** Holm-adjusted p-values, in the input order; reject where adjusted p <= alpha. */
export function holm(ps: number[]): number[] {
  const order = ps.map((p, i) => [p, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(ps.length);
  let running = 0;
  order.forEach(([p, i], rank) => {
    running = Math.max(running, Math.min(1, (ps.length - rank) * p));
    out[i] = running;
  });
  return out;
}

/** Percentile bootstrap CI of stat over items resampled with replacement (seeded: same seed, same CI). */
export function bootstrap<T>(
  items: T[],
  stat: (xs: T[]) => number,
  b = 1000,
  seed = 0,
  level = 0.95,
): [number, number] {
  if (items.length === 0) return [NaN, NaN];
  const r = rng(seed);
  const vals: number[] = [];
  for (let i = 0; i < b; i++) {
    const sample = Array.from({ length: items.length }, () => items[Math.floor(r() * items.length)]);
    const v = stat(sample);
    if (Number.isFinite(v)) vals.push(v);
  }
  vals.sort((x, y) => x - y);
  if (!vals.length) return [NaN, NaN];
  const q = (f: number) => vals[Math.min(vals.length - 1, Math.max(0, Math.floor(f * vals.length)))];
  return [q((1 - level) / 2), q(1 - (1 - level) / 2)];
}
