// charswap (DeepWordBug): edits letters inside words, never the word count or the words' first letters.
import { describe, expect, it } from "vitest";
import { charswap } from "../../transforms/charswap";
import { CASES, CTX, keepsTheContract } from "./contract";

describe("charswap", () => {
  keepsTheContract("charswap", { rate: 0.5 });

  it("changes the prompt but keeps the number of words and each word's first letter", () => {
    for (const [i, c] of charswap(CASES, { rate: 0.5 }, 0, CTX).entries()) {
      expect(c.prompt).not.toBe(CASES[i].prompt);
      const [a, b] = [CASES[i].prompt.split(" "), c.prompt.split(" ")];
      expect(b).toHaveLength(a.length);
      expect(b.map((w) => w[0])).toEqual(a.map((w) => w[0]));
    }
  });

  it("rate 0 changes nothing; different seeds give different edits", () => {
    expect(charswap(CASES, { rate: 0 }, 0, CTX).map((c) => c.prompt)).toEqual(CASES.map((c) => c.prompt));
    expect(charswap(CASES, { rate: 0.5 }, 1, CTX)[1].prompt).not.toBe(
      charswap(CASES, { rate: 0.5 }, 2, CTX)[1].prompt,
    );
  });

  it("rejects a rate outside [0, 1] with the parameter named", () => {
    expect(() => charswap(CASES, { rate: 2 }, 0, CTX)).toThrow(/charswap: parameter "rate"/);
  });
});
