// rot13: its own inverse; digits, spaces and punctuation never change.
import { describe, expect, it } from "vitest";
import { rot13, rot13text } from "../../transforms/rot13";
import { CASES, CTX, keepsTheContract } from "./contract";

describe("rot13", () => {
  keepsTheContract("rot13");

  it("applied twice gives the original", () => {
    for (const [i, c] of rot13(CASES, {}, 0, CTX).entries()) {
      expect(c.prompt).not.toBe(CASES[i].prompt);
      expect(rot13text(c.prompt)).toBe(CASES[i].prompt);
    }
  });

  it("maps letters by 13 and leaves the rest", () => {
    expect(rot13text("Hello, World 42!")).toBe("Uryyb, Jbeyq 42!");
  });
});
