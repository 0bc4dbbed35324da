// Black-box adaptive attack: log-prob random search over an adversarial suffix (Andriushchenko et al. 2024,
// "Jailbreaking leading safety-aligned LLMs with simple adaptive attacks"). Only /v1/score is used (and
// /v1/detokenize), so it works through the gateway. Each iteration mutates `changes` random positions of
// the suffix in `candidates` seeded ways, scores log p(target | prompt + suffix) for all of them in one
// call, and keeps the best if it beats the current one (so the history never decreases).
// Defaults: suffixTokens 16, iterations 30, candidates 8, changes 2, seed 0, token pool ids 3..vocab-1
// given by `pool` (default 3..4095: skips the specials at the start of the house vocabulary).
import type { ModelClient } from "../client";
import { rng } from "../rng";

export type RandomSearchOptions = {
  variant: string;
  prompt: string;
  target: string;
  suffixTokens?: number;
  iterations?: number;
  candidates?: number;
  changes?: number;
  seed?: number;
  pool?: [number, number]; // token ids drawn from [lo, hi)
};

export type AdaptiveResult = { suffix: number[]; suffixText: string; history: number[]; calls: number };

export async function randomSearch(client: ModelClient, o: RandomSearchOptions): Promise<AdaptiveResult> {
  const { suffixTokens = 16, iterations = 30, candidates = 8, changes = 2, seed = 0, pool = [3, 4096] } = o;
  const r = rng(seed);
  const draw = () => pool[0] + Math.floor(r() * (pool[1] - pool[0]));
  const score = async (suffixes: number[][]) => {
    const texts = await Promise.all(suffixes.map((s) => client.detokenize(s)));
    const res = await client.loglikelihood(
      texts.map((t) => ({ variant: o.variant, context: o.prompt + t, continuation: o.target })),
    );
    return { texts, lps: res.map((x) => x.logprob) };
  };
  let suffix = Array.from({ length: suffixTokens }, draw);
  let { texts, lps } = await score([suffix]);
  let best = { text: texts[0], lp: lps[0] };
  const history = [best.lp];
  let calls = 1;
  for (let it = 0; it < iterations; it++) {
    const mutants = Array.from({ length: candidates }, () => {
      const m = [...suffix];
      for (let c = 0; c < changes; c++) m[Math.floor(r() * m.length)] = draw();
      return m;
    });
    ({ texts, lps } = await score(mutants));
    calls++;
    const i = lps.indexOf(Math.max(...lps));
    if (lps[i] > best.lp) [suffix, best] = [mutants[i], { text: texts[i], lp: lps[i] }];
    history.push(best.lp);
  }
  return { suffix, suffixText: best.text, history, calls };
}
