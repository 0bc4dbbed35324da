// homoglyph (TextBugger): Latin letters become Cyrillic look-alikes; mapping them back gives the original.
import { describe, expect, it } from "vitest";
import { GLYPHS, homoglyph } from "../../transforms/homoglyph";
import { CASES, CTX, keepsTheContract } from "./contract";

const back = Object.fromEntries(Object.entries(GLYPHS).map(([a, b]) => [b, a]));

describe("homoglyph", () => {
  keepsTheContract("homoglyph", { rate: 0.5 });

  it("rate 1 replaces every letter that has a look-alike, and nothing else", () => {
    for (const [i, c] of homoglyph(CASES, { rate: 1 }, 0, CTX).entries()) {
      expect([...c.prompt].some((ch) => GLYPHS[ch] !== undefined)).toBe(false);
      expect([...c.prompt].map((ch) => back[ch] ?? ch).join("")).toBe(CASES[i].prompt);
    }
  });

  it("rate 0 changes nothing", () => {
    expect(homoglyph(CASES, { rate: 0 }, 0, CTX).map((c) => c.prompt)).toEqual(CASES.map((c) => c.prompt));
  });
});
