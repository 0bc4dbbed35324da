// bos-mid: exactly one BOS string is inserted at a word boundary; removing it gives the original back.
import { describe, expect, it } from "vitest";
import { bosMid } from "../../transforms/bos-mid";
import { CASES, CTX, keepsTheContract } from "./contract";

describe("bos-mid", () => {
  keepsTheContract("bos-mid");

  it("inserts the BOS string once, after a space, never at the start", () => {
    for (const [i, c] of bosMid(CASES, {}, 0, CTX).entries()) {
      expect(c.prompt.split(CTX.bosToken)).toHaveLength(2);
      expect(c.prompt.startsWith(CTX.bosToken)).toBe(false);
      expect(c.prompt).toMatch(/ <\|bos\|>/);
      expect(c.prompt.replace(CTX.bosToken, "")).toBe(CASES[i].prompt);
    }
  });

  it("at: 0.5 puts it in the middle gap of the words", () => {
    const [c] = bosMid(CASES, { at: 0.5 }, 0, CTX);
    expect(c.prompt).toBe("The quick brown fox <|bos|>jumps over the lazy");
  });
});
