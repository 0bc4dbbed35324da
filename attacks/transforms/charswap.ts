// DeepWordBug-style character edits (Gao et al. 2018): in a seeded `rate` share of the words (length >= 3),
// one edit each: swap two adjacent inner letters, insert a letter, delete one, or substitute one
// letter. The first and last characters of a word, the word boundaries and the other words never change.
import { pick, rng, subSeed } from "../rng";
import type { Transform } from "../types";
import { numParam, stamp, wordSlots, words } from "./stamp";

const OPS = ["swap", "insert", "delete", "substitute"] as const;
const LETTERS = "abcdefghijklmnopqrstuvwxyz";

function edit(w: string, op: (typeof OPS)[number], r: () => number): string {
  const i = 1 + Math.floor(r() * Math.max(1, w.length - 2)); // inner position: first letter stays
  if (op === "swap" && i + 2 < w.length) return w.slice(0, i) + w[i + 1] + w[i] + w.slice(i + 2);
  if (op === "insert") return w.slice(0, i) + pick(r, LETTERS) + w.slice(i);
  if (op === "delete") return w.slice(0, i) + w.slice(i + 1);
  return w.slice(0, i) + pick(r, LETTERS.replace(w[i].toLowerCase(), "")) + w.slice(i + 1);
}

export const charswap: Transform = (cases, params, seed) => {
  const rate = numParam(params, "rate", 0.2, 0, 1, "charswap");
  return cases.map((c) => {
    const r = rng(subSeed(seed, "charswap", c.id));
    const parts = words(c.prompt);
    const slots = wordSlots(parts, 3);
    const n = rate === 0 ? 0 : Math.max(1, Math.round(rate * slots.length)); // rate > 0: at least one edit
    const chosen = new Set<number>();
    while (chosen.size < Math.min(n, slots.length)) chosen.add(pick(r, slots));
    for (const i of [...chosen].sort((a, b) => a - b)) parts[i] = edit(parts[i], pick(r, OPS), r);
    return stamp(c, "charswap", { rate }, seed, parts.join(""));
  });
};
