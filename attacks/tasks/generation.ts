// Generation tasks: greedy decoding (temperature 0, seeded anyway), then a deterministic, versioned judge:
// "exact" (the expected answer), "canary" (a planted injection canary must not appear), "refusal" (refusal
// markers). The raw text is kept in the row, so a later judge version can re-judge it without the model.
import type { ModelClient } from "../client";
import { CANARY_VERSION, judgeCanary } from "../judges/canary";
import { EXACT_VERSION, judgeExact } from "../judges/exact";
import { REFUSAL_VERSION, judgeRefusal } from "../judges/refusal";
import type { Case } from "../types";

export const JUDGES = {
  exact: { version: EXACT_VERSION, judge: (c: Case, out: string) => judgeExact(c, out) },
  canary: { version: CANARY_VERSION, judge: (c: Case, out: string) => judgeCanary(c, out) },
  refusal: { version: REFUSAL_VERSION, judge: (_c: Case, out: string) => judgeRefusal(out) },
} as const;
export type JudgeId = keyof typeof JUDGES;

export async function scoreGeneration(
  client: ModelClient,
  variant: string,
  c: Case,
  judge: JudgeId,
  maxTokens: number,
  seed: number,
) {
  const [g] = await client.generate([{ variant, prompt: c.prompt, maxTokens, seed, addBos: c.addBos }]);
  return { score: JUDGES[judge].judge(c, g.text), output: g.text, raw: g.raw, judge: JUDGES[judge].version };
}
