// Word-level substitution (TextFooler/PromptBench style, without the model in the loop): a seeded `rate`
// share of the words that the lexicon knows are replaced by one of their synonyms. The lexicon is the
// `synonyms` npm package (a WordNet-derived English thesaurus); the case of the first letter is kept.
/// <reference path="../synonyms.d.ts" />
import dictionary from "synonyms/dictionary.js";
import { pick, rng, subSeed } from "../rng";
import type { Transform } from "../types";
import { numParam, stamp, wordSlots, words } from "./stamp";

const lexicon = dictionary as Record<string, Record<string, string[]>>;

/** Single-word synonyms of a word, in the lexicon's order (the package's own entries hold POS letters too). */
export function synonymsOf(word: string): string[] {
  const entry = Object.hasOwn(lexicon, word.toLowerCase()) ? lexicon[word.toLowerCase()] : undefined;
  if (!entry) return [];
  const all = Object.values(entry).flat();
  return [...new Set(all)].filter((s) => /^[a-z]{3,}$/.test(s) && s !== word.toLowerCase());
}

export const synonym: Transform = (cases, params, seed) => {
  const rate = numParam(params, "rate", 0.2, 0, 1, "synonym");
  return cases.map((c) => {
    const r = rng(subSeed(seed, "synonym", c.id));
    const parts = words(c.prompt);
    for (const i of wordSlots(parts, 3)) {
      const [, core, tail] = /^([A-Za-z]+)(.*)$/.exec(parts[i])!;
      const subs = synonymsOf(core);
      if (subs.length === 0 || r() >= rate) continue;
      const s = pick(r, subs);
      parts[i] = (core[0] === core[0].toUpperCase() ? s[0].toUpperCase() + s.slice(1) : s) + tail;
    }
    return stamp(c, "synonym", { rate }, seed, parts.join(""));
  });
};
