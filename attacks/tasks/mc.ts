// Multiple choice scored by log-likelihood, as lm-evaluation-harness does it: each choice is a continuation
// of the context, scored with `loglikelihood`; acc = argmax of the log-likelihoods is the gold choice;
// acc_norm = argmax of the log-likelihood divided by the choice's length in characters (lm-eval's
// "acc_norm", which removes the bias towards short answers).
import type { ModelClient } from "../client";
import type { Case } from "../types";

export function argmax(xs: number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

export function accOf(lls: number[], gold: number): number {
  return argmax(lls) === gold ? 1 : 0;
}

export function accNormOf(lls: number[], choices: string[], gold: number): number {
  return argmax(lls.map((ll, i) => ll / Math.max(1, choices[i].length))) === gold ? 1 : 0;
}

export async function scoreMc(client: ModelClient, variant: string, c: Case) {
  if (!c.choices || c.gold === undefined) throw new Error(`case ${c.id} is not multiple choice`);
  const res = await client.loglikelihood(
    c.choices.map((continuation) => ({ variant, context: c.prompt, continuation, addBos: c.addBos })),
  );
  const lls = res.map((r) => r.logprob);
  const acc = accOf(lls, c.gold);
  const accNorm = accNormOf(lls, c.choices, c.gold);
  return { score: acc, output: c.choices[argmax(lls)], raw: { loglikelihoods: lls, acc, acc_norm: accNorm } };
}
