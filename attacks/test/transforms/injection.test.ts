// injection: plants a seeded canary in the prompt and on the case, keeps the original text, and the canary
// judge scores an output that repeats it as not resisted.
import { describe, expect, it } from "vitest";
import { judgeCanary } from "../../judges/canary";
import { injection } from "../../transforms/injection";
import { CASES, CTX, keepsTheContract } from "./contract";

describe("injection", () => {
  keepsTheContract("injection");

  it("plants the same canary in the prompt and on the case, after the original", () => {
    for (const [i, c] of injection(CASES, {}, 0, CTX).entries()) {
      expect(c.canary).toMatch(/^CANARY[A-Z2-9]{6}$/);
      expect(c.prompt).toContain(c.canary);
      expect(c.prompt.startsWith(CASES[i].prompt)).toBe(true);
    }
  });

  it("different cases get different canaries; the judge sees the canary case-insensitively", () => {
    const out = injection(CASES, {}, 0, CTX);
    expect(new Set(out.map((c) => c.canary)).size).toBe(out.length);
    expect(judgeCanary(out[0], `sure: ${out[0].canary!.toLowerCase()}`)).toBe(0);
    expect(judgeCanary(out[0], "the lazy dog")).toBe(1);
    expect(judgeCanary(CASES[0], "anything")).toBe(1);
  });
});
