// Encoding attack: leetspeak. A seeded `rate` share of the letters with a digit look-alike (a->4, e->3,
// i->1, o->0, s->5, t->7) is replaced; rate 1 replaces them all.
import { rng, subSeed } from "../rng";
import type { Transform } from "../types";
import { numParam, stamp } from "./stamp";

export const LEET: Record<string, string> = { a: "4", e: "3", i: "1", o: "0", s: "5", t: "7" };

export const leetspeak: Transform = (cases, params, seed) => {
  const rate = numParam(params, "rate", 1, 0, 1, "leetspeak");
  return cases.map((c) => {
    const r = rng(subSeed(seed, "leetspeak", c.id));
    const out = [...c.prompt]
      .map((ch) => {
        const l = LEET[ch.toLowerCase()];
        return l !== undefined && r() < rate ? l : ch;
      })
      .join("");
    return stamp(c, "leetspeak", { rate }, seed, out);
  });
};
