// Side by side: how far variants' answers to one prompt diverge from the first (reference) variant.
// token_overlap: share of positions with the same token id, over the longer answer; first_divergence: the
// first position that differs (null when identical); logprob_gap: the variant's mean token log-probability
// minus the reference's (negative = the variant is less sure of its own text).
export type Side = {
  variant: string;
  text: string;
  tokens: number[];
  token_logprobs: number[];
  finish_reason: string | null;
  usage: { prompt_tokens: number; completion_tokens: number } | null;
  latency_ms: number | null;
};

export function meanLogprob(s: Side): number | null {
  return s.token_logprobs.length
    ? s.token_logprobs.reduce((a, b) => a + b, 0) / s.token_logprobs.length
    : null;
}

export function divergence(ref: Side, other: Side) {
  const n = Math.max(ref.tokens.length, other.tokens.length);
  let same = 0;
  let first: number | null = null;
  for (let i = 0; i < n; i++) {
    if (ref.tokens[i] === other.tokens[i]) same++;
    else if (first === null) first = i;
  }
  const a = meanLogprob(ref);
  const b = meanLogprob(other);
  return {
    variant: other.variant,
    reference: ref.variant,
    token_overlap: n === 0 ? 1 : same / n,
    first_divergence: first,
    logprob_gap: a === null || b === null ? null : b - a,
  };
}

export function summary(id: string, model: string, sides: Side[]) {
  return {
    id,
    object: "compare",
    model,
    reference: sides[0]?.variant ?? null,
    results: sides.map((s) => ({ ...s, mean_logprob: meanLogprob(s) })),
    divergence: sides.slice(1).map((s) => divergence(sides[0], s)),
  };
}
