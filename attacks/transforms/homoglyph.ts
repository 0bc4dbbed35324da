// TextBugger's visual substitutions (Li et al. 2019): a seeded `rate` share of the Latin letters that have
// a Cyrillic look-alike are replaced by it. A reader sees the same text; the tokenizer does not.
import { rng, subSeed } from "../rng";
import type { Transform } from "../types";
import { numParam, stamp } from "./stamp";

export const GLYPHS: Record<string, string> = {
  a: "\u0430",
  c: "\u0441",
  e: "\u0435",
  o: "\u043e",
  p: "\u0440",
  x: "\u0445",
  y: "\u0443",
  A: "\u0410",
  B: "\u0412",
  C: "\u0421",
  E: "\u0415",
  H: "\u041d",
  K: "\u041a",
  M: "\u041c",
  O: "\u041e",
  P: "\u0420",
  T: "\u0422",
  X: "\u0425",
};

export const homoglyph: Transform = (cases, params, seed) => {
  const rate = numParam(params, "rate", 0.3, 0, 1, "homoglyph");
  return cases.map((c) => {
    const r = rng(subSeed(seed, "homoglyph", c.id));
    const out = [...c.prompt]
      .map((ch) => (GLYPHS[ch] !== undefined && r() < rate ? GLYPHS[ch] : ch))
      .join("");
    return stamp(c, "homoglyph", { rate }, seed, out);
  });
};
