// Rolling perplexity (lm-evaluation-harness `loglikelihood_rolling`): the runner scores every token of the
// text in windows of its context; a row keeps the log-likelihood and token count so that reports compute
// the corpus-level perplexity exp(-sum logprob / sum tokens), not a mean of per-item perplexities.
// Without BOS (drop-bos) the first token is not predicted, so the text has one scored token fewer.
import type { ModelClient } from "../client";
import type { Case } from "../types";

export function corpusPerplexity(items: { logprob: number; tokens: number }[]): number {
  const lp = items.reduce((s, x) => s + x.logprob, 0);
  const n = items.reduce((s, x) => s + x.tokens, 0);
  return n === 0 ? NaN : Math.exp(-lp / n);
}

export async function scorePerplexity(client: ModelClient, variant: string, c: Case) {
  const [r] = await client.rolling([{ variant, text: c.prompt, addBos: c.addBos }]);
  const ppl = Math.exp(-r.logprob / Math.max(1, r.tokens));
  return { score: ppl, output: null, raw: { logprob: r.logprob, tokens: r.tokens } };
}
