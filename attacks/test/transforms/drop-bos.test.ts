// drop-bos: the text is untouched; the case asks to be sent without BOS.
import { describe, expect, it } from "vitest";
import { dropBos } from "../../transforms/drop-bos";
import { CASES, CTX, keepsTheContract } from "./contract";

describe("drop-bos", () => {
  keepsTheContract("drop-bos");

  it("keeps the text and sets addBos to false", () => {
    for (const [i, c] of dropBos(CASES, {}, 0, CTX).entries()) {
      expect(c.prompt).toBe(CASES[i].prompt);
      expect(c.addBos).toBe(false);
    }
  });
});
