// distractor (StressTest/CheckList): the original prompt is kept whole; only a sentence is added.
import { describe, expect, it } from "vitest";
import { distractor } from "../../transforms/distractor";
import { CASES, CTX, keepsTheContract } from "./contract";

describe("distractor", () => {
  keepsTheContract("distractor", { kind: "irrelevant" });

  it("adds the tautology at the start by default and keeps the prompt whole after it", () => {
    const [c] = distractor(CASES, {}, 0, CTX);
    expect(c.prompt).toBe(`And true is true. ${CASES[0].prompt}`);
  });

  it("at the end, the original is a prefix; 'length' repeats the tautology five times", () => {
    const [c] = distractor(CASES, { kind: "length", where: "end" }, 0, CTX);
    expect(c.prompt.startsWith(CASES[0].prompt)).toBe(true);
    expect(c.prompt.match(/And true is true\./g)).toHaveLength(5);
  });

  it("rejects an unknown kind", () => {
    expect(() => distractor(CASES, { kind: "nope" }, 0, CTX)).toThrow(/kind/);
  });
});
