// leading-delimiter: the prompt starts with the delimiter and a space; the rest is the original.
import { describe, expect, it } from "vitest";
import { leadingDelimiter } from "../../transforms/leading-delimiter";
import { CASES, CTX, keepsTheContract } from "./contract";

describe("leading-delimiter", () => {
  keepsTheContract("leading-delimiter");

  it("prefixes '. ' by default and the given delimiter otherwise", () => {
    expect(leadingDelimiter(CASES, {}, 0, CTX)[0].prompt).toBe(". " + CASES[0].prompt);
    expect(leadingDelimiter(CASES, { delimiter: "\n" }, 0, CTX)[0].prompt).toBe("\n " + CASES[0].prompt);
    expect(() => leadingDelimiter(CASES, { delimiter: "" }, 0, CTX)).toThrow(/delimiter/);
  });
});
