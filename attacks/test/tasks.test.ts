// Task plumbing without a model: lm-eval's acc and acc_norm, the built-in suites' determinism and shape
// (with chance levels), the JSONL loader with its line-numbered errors, and the judges.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { judgeExact } from "../judges/exact";
import { judgeRefusal } from "../judges/refusal";
import { loadJsonl } from "../tasks/jsonl";
import { accNormOf, accOf } from "../tasks/mc";
import { HOUSE_HELDOUT } from "../run";
import { buildSuite } from "../tasks/suites";

describe("multiple choice as lm-evaluation-harness scores it", () => {
  it("acc is the argmax of the log-likelihoods; acc_norm divides by the choice's characters first", () => {
    const lls = [-4, -6];
    const choices = [" a", " much longer answer"]; // 2 and 19 characters: -2/char against -0.32/char
    expect(accOf(lls, 0)).toBe(1);
    expect(accNormOf(lls, choices, 0)).toBe(0);
    expect(accNormOf(lls, choices, 1)).toBe(1);
  });
});

describe("built-in suites from held-out text", () => {
  const text = readFileSync(HOUSE_HELDOUT, "utf8");

  it("are the same for the same seed, and different for another", () => {
    expect(buildSuite("heldout-cloze", text, 30, 0)).toEqual(buildSuite("heldout-cloze", text, 30, 0));
    expect(buildSuite("heldout-cloze", text, 30, 1)[0]).not.toEqual(
      buildSuite("heldout-cloze", text, 30, 0)[0],
    );
  });

  it("cloze: four distinct choices, the gold one is the sentence's real last word, golds spread over positions", () => {
    const cases = buildSuite("heldout-cloze", text, 200);
    expect(cases).toHaveLength(200);
    for (const c of cases) {
      expect(new Set(c.choices).size).toBe(4);
      expect(text.replace(/\s+/g, " ")).toContain(`${c.prompt}${c.choices![c.gold!]}`);
    }
    const golds = [0, 1, 2, 3].map((g) => cases.filter((c) => c.gold === g).length);
    for (const n of golds) expect(n).toBeGreaterThan(30); // chance is 1/4 for a model that ignores the text
  });

  it("next-word cases carry their target; perplexity cases are paragraphs", () => {
    for (const c of buildSuite("heldout-next", text, 20)) expect(c.target).toMatch(/^[A-Za-z]{3,}$/);
    for (const c of buildSuite("heldout-ppl", text, 5))
      expect(c.prompt.split(" ").length).toBeGreaterThanOrEqual(40);
  });
});

describe("lm-eval-style JSONL", () => {
  it("loads query/choices/gold lines and maps other field names", () => {
    const a = loadJsonl('{"query": "Q: 2+2?\\nA:", "choices": ["4", "5"], "gold": 0}\n\n', "arc");
    expect(a).toEqual([
      {
        id: "arc/0",
        task: "arc",
        kind: "mc",
        prompt: "Q: 2+2?\nA:",
        choices: [" 4", " 5"],
        gold: 0,
        provenance: [],
      },
    ]);
    const b = loadJsonl('{"goal": "x", "sol": ["a", "b"], "label": "1", "uid": "p7"}', "piqa", {
      context: "goal",
      choices: "sol",
      gold: "label",
      id: "uid",
    });
    expect(b[0]).toMatchObject({ id: "piqa/p7", gold: 1 });
  });

  it("names the line and the field to fix", () => {
    expect(() => loadJsonl('{"query": "a", "choices": ["x", "y"], "gold": 0}\nnot json', "t")).toThrow(
      /t: line 2 is not valid JSON/,
    );
    expect(() => loadJsonl('{"query": "a", "choices": ["x", "y"], "gold": 2}', "t")).toThrow(
      /line 1: "gold" must be an index/,
    );
    expect(() => loadJsonl('{"question": "a", "choices": ["x", "y"], "gold": 0}', "t")).toThrow(
      /"query" must be a string \(map it/,
    );
  });
});

describe("judges", () => {
  it("exact: the first non-empty line starts with the target, case and spaces aside", () => {
    const c = { id: "x", task: "t", kind: "gen" as const, prompt: "p", target: "Volunteers", provenance: [] };
    expect(judgeExact(c, "  volunteers.\nmore")).toBe(1);
    expect(judgeExact(c, "\n\nvolunteers")).toBe(1);
    expect(judgeExact(c, "many volunteers")).toBe(0);
  });

  it("refusal: markers in any case", () => {
    expect(judgeRefusal("I'M SORRY, but no.")).toBe(1);
    expect(judgeRefusal("Sure, here it is.")).toBe(0);
  });
});
