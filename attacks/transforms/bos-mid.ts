// BOS in mid-prompt: the tokenizer's BOS string is inserted at a seeded word boundary (or at the fraction
// `at` of the words), creating a second attention-sink candidate where the model expects ordinary text.
// The runner's tokenizer turns the BOS string into the BOS token.
import { rng, subSeed } from "../rng";
import type { Transform } from "../types";
import { numParam, stamp, words } from "./stamp";

export const bosMid: Transform = (cases, params, seed, ctx) => {
  const at = params.at === undefined ? -1 : numParam(params, "at", 0.5, 0, 1, "bos-mid");
  return cases.map((c) => {
    const parts = words(c.prompt);
    const gaps = parts.flatMap((_, i) => (i % 2 === 1 ? [i] : [])); // separators between words
    if (gaps.length === 0) return stamp(c, "bos-mid", { at }, seed, ctx.bosToken + c.prompt);
    const f = at >= 0 ? at : rng(subSeed(seed, "bos-mid", c.id))();
    const g = gaps[Math.min(gaps.length - 1, Math.floor(f * gaps.length))];
    parts[g] = parts[g] + ctx.bosToken;
    return stamp(c, "bos-mid", { at }, seed, parts.join(""));
  });
};
