// White-box adaptive attack: Greedy Coordinate Gradient (Zou et al. 2023, "Universal and transferable
// adversarial attacks on aligned language models"), on our own runner's admin-only gradients routes. Each
// step: the gradient of the target loss with respect to the suffix's one-hot tokens gives the top-k
// candidate tokens per position (POST /v1/gradients/token); `batch` candidates, each the current suffix
// with one random position swapped for one of its top-k, are scored in one call (POST /v1/gradients/loss);
// the best replaces the current suffix when it lowers the loss (a monotone variant of GCG, which always
// moves: the history here never increases).
// Defaults: suffixTokens 12 (initialised to the token of " !", as in the paper), steps 20, topK 64,
// batch 32, seed 0. The loss is the mean negative log-likelihood per target token.
import type { ModelClient } from "../client";
import { rng } from "../rng";

export type GcgOptions = {
  variant: string;
  prompt: string;
  target: string;
  suffixTokens?: number;
  steps?: number;
  topK?: number;
  batch?: number;
  seed?: number;
};

export type GcgResult = { suffix: number[]; suffixText: string; history: number[]; calls: number };

export async function gcg(client: ModelClient, o: GcgOptions): Promise<GcgResult> {
  const { suffixTokens = 12, steps = 20, topK = 64, batch = 32, seed = 0 } = o;
  const r = rng(seed);
  const bang = (await client.tokenize(" !"))[0];
  let suffix = Array(suffixTokens).fill(bang) as number[];
  const base = { variant: o.variant, prompt: o.prompt, target: o.target };
  let g = await client.tokenGradients({ ...base, suffix_ids: suffix, top_k: topK });
  let loss = g.loss;
  const history = [loss];
  let calls = 1;
  for (let step = 0; step < steps; step++) {
    const cands = Array.from({ length: batch }, () => {
      const c = [...suffix];
      const pos = Math.floor(r() * c.length);
      c[pos] = g.top[pos][Math.floor(r() * g.top[pos].length)];
      return c;
    });
    const losses = await client.suffixLosses({ ...base, candidates: cands });
    calls++;
    const i = losses.indexOf(Math.min(...losses));
    if (losses[i] < loss) {
      [suffix, loss] = [cands[i], losses[i]];
      g = await client.tokenGradients({ ...base, suffix_ids: suffix, top_k: topK });
      calls++;
    }
    history.push(loss);
  }
  return { suffix, suffixText: await client.detokenize(suffix), history, calls };
}
