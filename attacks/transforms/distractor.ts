// Sentence-level distractors from StressTest (Naik et al. 2018) and CheckList (Ribeiro et al. 2020): a
// sentence that changes nothing about the answer is added to the prompt. Kinds: "tautology" (" and true
// is true", word overlap), "negation" (" and false is not true"), "length" (the tautology five times),
// "irrelevant" (a seeded neutral sentence). `where`: "start" (default: a cloze's context stays whole) or
// "end" (right before the answer: for prompts that end with a full sentence).
import { pick, rng, subSeed } from "../rng";
import type { Transform } from "../types";
import { stamp, strParam } from "./stamp";

const IRRELEVANT = [
  "The weather was mild that day.",
  "Nobody mentioned the colour of the door.",
  "A train left the station at noon.",
  "Some people prefer tea to coffee.",
  "The library closes at six on Sundays.",
];
const KINDS = ["tautology", "negation", "length", "irrelevant"];

export const distractor: Transform = (cases, params, seed) => {
  const kind = strParam(params, "kind", "tautology", "distractor");
  const where = strParam(params, "where", "start", "distractor");
  if (!KINDS.includes(kind)) throw new Error(`distractor: "kind" must be one of ${KINDS.join(", ")}`);
  if (where !== "end" && where !== "start") throw new Error(`distractor: "where" must be "end" or "start"`);
  return cases.map((c) => {
    const r = rng(subSeed(seed, "distractor", c.id));
    const text = {
      tautology: "And true is true.",
      negation: "And false is not true.",
      length: Array(5).fill("And true is true.").join(" "),
      irrelevant: pick(r, IRRELEVANT),
    }[kind]!;
    const prompt = where === "start" ? `${text} ${c.prompt}` : `${c.prompt.trimEnd()} ${text}`;
    return stamp(c, "distractor", { kind, where }, seed, prompt);
  });
};
