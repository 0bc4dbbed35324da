// leetspeak: at rate 1 no letter with a digit look-alike is left; the length never changes.
import { describe, expect, it } from "vitest";
import { LEET, leetspeak } from "../../transforms/leetspeak";
import { CASES, CTX, keepsTheContract } from "./contract";

describe("leetspeak", () => {
  keepsTheContract("leetspeak", { rate: 0.5 });

  it("rate 1 replaces every a, e, i, o, s, t (either case) and keeps the length", () => {
    for (const [i, c] of leetspeak(CASES, {}, 0, CTX).entries()) {
      expect(c.prompt).toHaveLength(CASES[i].prompt.length);
      expect([...c.prompt].some((ch) => LEET[ch.toLowerCase()] !== undefined)).toBe(false);
    }
  });
});
