// Seeded randomness and stable hashes: every transform and suite is a pure function of its seed, so the
// same campaign gives the same cases on any machine (Math.random() is never used in attacks/).
import { createHash } from "node:crypto";

/** mulberry32: a small 32-bit generator with good enough statistics for picking positions and words. */
export function rng(seed: number): () => number {
  let a = seed >>> 0 || 0x9e3779b9;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seed for one (attack, case) pair: changing one case never reshuffles the others. */
export function subSeed(seed: number, ...parts: string[]): number {
  return parseInt(sha256([String(seed), ...parts].join("\u0000")).slice(0, 8), 16);
}

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

export function pick<T>(r: () => number, xs: ArrayLike<T>): T {
  return xs[Math.floor(r() * xs.length)];
}

/** Fisher-Yates on a copy. */
export function shuffle<T>(r: () => number, xs: readonly T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
