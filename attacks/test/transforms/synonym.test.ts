// synonym (word level): every changed word is a lexicon synonym of the word it replaced.
import { describe, expect, it } from "vitest";
import { synonym, synonymsOf } from "../../transforms/synonym";
import { CASES, CTX, keepsTheContract } from "./contract";

describe("synonym", () => {
  keepsTheContract("synonym", { rate: 0.5 });

  it("the lexicon knows common words", () => {
    expect(synonymsOf("quick")).toContain("speedy");
    expect(synonymsOf("zzzz")).toEqual([]);
  });

  it("rate 1 replaces words only by their synonyms and keeps the word count", () => {
    const out = synonym(CASES, { rate: 1 }, 0, CTX);
    let changed = 0;
    for (const [i, c] of out.entries()) {
      const [a, b] = [CASES[i].prompt.split(" "), c.prompt.split(" ")];
      expect(b).toHaveLength(a.length);
      a.forEach((w, j) => {
        if (w === b[j]) return;
        changed++;
        const core = w.replace(/[^A-Za-z]/g, "");
        expect(synonymsOf(core)).toContain(b[j].replace(/[^A-Za-z]/g, "").toLowerCase());
      });
    }
    expect(changed).toBeGreaterThan(3);
  });
});
