// Built-in suites, generated deterministically from held-out text (the house model's heldout.txt, never
// seen in training), so the default models do better than chance without any download:
// - heldout-cloze (multiple choice, chance 1/4): a sentence of 8-40 words without its last word is the
//   context; the choices are its real last word and three last words of other sentences (seeded).
// - heldout-next (generation, exact judge; chance ~0): the same contexts; the answer is the real last word.
// - heldout-ppl (rolling perplexity): paragraphs of 40-200 words.
// Sentences are picked by a seeded shuffle of all that qualify, so item i is the same on every machine.
import { rng, shuffle, subSeed } from "../rng";
import type { Case } from "../types";

export const SUITES = ["heldout-cloze", "heldout-next", "heldout-ppl"] as const;
export type SuiteId = (typeof SUITES)[number];

/** Sentences of 8-40 words ending in an alphabetic word of 3+ letters and a full stop. */
export function sentences(text: string): { context: string; last: string }[] {
  const out: { context: string; last: string }[] = [];
  for (const para of text.split(/\n\s*\n/)) {
    for (const s of para
      .replace(/\s+/g, " ")
      .trim()
      .split(/(?<=\.)\s+(?=[A-Z])/)) {
      const m = /^(.*\S)\s+([A-Za-z]{3,})\.$/.exec(s);
      const n = s.split(" ").length;
      if (m && n >= 8 && n <= 40 && /^[A-Z]/.test(s) && !/[<>{}|\\]/.test(s))
        out.push({ context: m[1], last: m[2] });
    }
  }
  return out;
}

export function paragraphs(text: string): string[] {
  return text
    .split(/\n\s*\n/)
    .map((p) => p.replace(/\s+/g, " ").trim())
    .filter((p) => {
      const n = p.split(" ").length;
      return n >= 40 && n <= 200;
    });
}

export function buildSuite(suite: SuiteId, text: string, n: number, seed = 0): Case[] {
  if (suite === "heldout-ppl")
    return shuffle(rng(seed), paragraphs(text))
      .slice(0, n)
      .map((p, i) => ({ id: `${suite}/${i}`, task: suite, kind: "ppl", prompt: p, provenance: [] }));
  const all = shuffle(rng(seed), sentences(text));
  const lasts = [...new Set(all.map((s) => s.last))];
  return all.slice(0, n).map((s, i): Case => {
    const id = `${suite}/${i}`;
    if (suite === "heldout-next")
      return { id, task: suite, kind: "gen", prompt: s.context, target: s.last, provenance: [] };
    const r = rng(subSeed(seed, id));
    const wrong = shuffle(
      r,
      lasts.filter((w) => w.toLowerCase() !== s.last.toLowerCase()),
    ).slice(0, 3);
    const gold = Math.floor(r() * 4);
    const choices = [...wrong];
    choices.splice(gold, 0, s.last);
    return {
      id,
      task: suite,
      kind: "mc",
      prompt: s.context,
      choices: choices.map((w) => ` ${w}.`),
      gold,
      provenance: [],
    };
  });
}

export const CHANCE: Record<SuiteId, number | null> = {
  "heldout-cloze": 0.25,
  "heldout-next": 0,
  "heldout-ppl": null,
};
