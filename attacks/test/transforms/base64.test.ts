// base64: the encoded prompt decodes back to the original exactly.
import { describe, expect, it } from "vitest";
import { base64 } from "../../transforms/base64";
import { CASES, CTX, keepsTheContract } from "./contract";

describe("base64", () => {
  keepsTheContract("base64");

  it("decodes back to the original prompt", () => {
    for (const [i, c] of base64(CASES, { template: "{x}" }, 0, CTX).entries())
      expect(Buffer.from(c.prompt, "base64").toString("utf8")).toBe(CASES[i].prompt);
  });

  it("needs {x} in the template", () => {
    expect(() => base64(CASES, { template: "no slot" }, 0, CTX)).toThrow(/\{x\}/);
  });
});
