// One call to POST /v1/generate through the pool; an OpenAI-compatible engine (vLLM multi-LoRA) may serve a
// single-row chat or completions request instead, with the variant mapped to the engine's model name.
import type { Ctx } from "./env";
import { RunnerPool, runnerError, type RunnerAnswer } from "./runner/pool";

export type Row = {
  variant: string;
  prompt?: string | number[];
  messages?: { role: string; content: string }[];
  max_tokens: number;
  temperature: number;
  top_p: number;
  seed?: number;
  stop?: string[];
  add_bos?: boolean;
  logprobs?: number;
};

/** For engines of kind "openai": the OpenAI path and the client's body (its `model` is replaced). */
export type EngineRequest = { path: string; body: Record<string, unknown> };

export async function generate(
  c: Ctx,
  rows: Row[],
  stream: boolean,
  engine?: EngineRequest,
): Promise<RunnerAnswer> {
  const variant = rows[0].variant;
  const servable = engine && rows.length === 1;
  const answer = await new RunnerPool(c.env, c.var.config).call({
    path: "/v1/generate",
    kinds: servable ? ["runner", "openai"] : ["runner"],
    accept: (t) => t.kind === "runner" || Boolean(t.models?.[variant]),
    pathFor: (t) => (t.kind === "runner" ? "/v1/generate" : engine!.path),
    bodyFor: (t) =>
      t.kind === "runner" ? { requests: rows, stream } : { ...engine!.body, model: t.models![variant] },
    signal: c.req.raw.signal,
  });
  c.var.record.target = answer.target.name;
  if (!answer.res.ok) throw await runnerError(answer.res, answer.target);
  return answer;
}
