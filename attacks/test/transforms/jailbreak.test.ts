// jailbreak: the prompt is wrapped whole in one template; `template` picks it.
import { describe, expect, it } from "vitest";
import { TEMPLATES, jailbreak } from "../../transforms/jailbreak";
import { CASES, CTX, keepsTheContract } from "./contract";

describe("jailbreak", () => {
  keepsTheContract("jailbreak");

  it("wraps the prompt whole in the chosen template", () => {
    const [c] = jailbreak(CASES, { template: 2 }, 0, CTX);
    expect(c.prompt).toBe(TEMPLATES[2].replace("{x}", CASES[0].prompt));
  });

  it("without a template, picks one of them per case from the seed", () => {
    for (const c of jailbreak(CASES, {}, 5, CTX)) {
      const t = c.provenance[0].params.template as number;
      expect(c.prompt).toBe(TEMPLATES[t].replace("{x}", c.provenance[0].original));
    }
    expect(() => jailbreak(CASES, { template: 99 }, 0, CTX)).toThrow(/template/);
  });
});
