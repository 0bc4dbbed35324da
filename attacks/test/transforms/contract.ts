// The contract every prompt attack keeps, as shared test cases: same seed, same cases; provenance stamped
// (attack id, parameters, seed, original text); the input never mutated; what identifies and scores a case
// (id, task, kind, choices, gold, target) never changed.
import { expect, it } from "vitest";
import { TRANSFORMS } from "../../index";

type AttackId = keyof typeof TRANSFORMS;
import type { Case } from "../../types";

export const CTX = { bosToken: "<|bos|>" };

export const CASES: Case[] = [
  {
    id: "t/0",
    task: "t",
    kind: "mc",
    prompt: "The quick brown fox jumps over the lazy",
    choices: [" dog.", " cat."],
    gold: 0,
    provenance: [],
  },
  {
    id: "t/1",
    task: "t",
    kind: "gen",
    prompt: "Debian packages are installed with apt and maintained by",
    target: "volunteers",
    provenance: [],
  },
  {
    id: "t/2",
    task: "t",
    kind: "ppl",
    prompt: "Software RAID and LVM volumes can be created by hand after the installation.",
    provenance: [],
  },
];

export function keepsTheContract(id: AttackId, params: Record<string, unknown> = {}) {
  const run = (seed: number, cases = CASES) => TRANSFORMS[id](cases, params, seed, CTX);

  it(`${id}: the same seed gives the same cases`, () => {
    expect(run(7)).toEqual(run(7));
  });

  it(`${id}: stamps provenance (attack, parameters, seed, original)`, () => {
    for (const [i, c] of run(3).entries()) {
      expect(c.provenance).toHaveLength(1);
      expect(c.provenance[0]).toMatchObject({ attack: id, seed: 3, original: CASES[i].prompt });
      expect(c.provenance[0].params).toBeTypeOf("object");
    }
  });

  it(`${id}: keeps id, task, kind, choices, gold and target, and does not mutate its input`, () => {
    const before = structuredClone(CASES);
    const out = run(1);
    expect(CASES).toEqual(before);
    for (const [i, c] of out.entries())
      for (const k of ["id", "task", "kind", "choices", "gold", "target"] as const)
        expect(c[k]).toEqual(CASES[i][k]);
  });

  it(`${id}: provenance chains when attacks compose`, () => {
    const twice = run(2, run(1));
    expect(twice[0].provenance.map((p) => p.seed)).toEqual([1, 2]);
    expect(twice[0].provenance[1].original).toBe(run(1)[0].prompt);
  });
}
