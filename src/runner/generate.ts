// One call to POST /v1/generate through the pool; an OpenAI-compatible engine (vLLM multi-LoRA) may serve a
// single-row chat or completions request instead, with the variant mapped to the engine's model name.
import { ApiError } from "../errors";
import { unsupportedParams } from "../schemas";
import type { RunnerAnswer, RunnerPool } from "./pool";
import type { Row } from "./wire";

/** For engines of kind "openai": the OpenAI path and the client's body (its `model` is replaced). */
export type EngineRequest = { path: string; body: Record<string, unknown> };

/** The client's name for a runner's field: a row's input ("requests[2]", "requests[2].prompt", "echo[2]")
 *  is `input(2)` ("prompt[2]", "messages"); any other row field loses its row ("max_tokens"). */
export function clientField(input: (row: number) => string) {
  return (f: string) =>
    f
      .replace(/^(?:requests|echo)\[(\d+)\](?:\.(?:prompt|messages))?$/, (_, i) => input(Number(i)))
      .replace(/^(?:requests|echo)\[\d+\]\./, "");
}

export function generate(
  pool: RunnerPool,
  rows: Row[],
  stream: boolean,
  engine?: EngineRequest,
  input: (row: number) => string = () => "prompt",
): Promise<RunnerAnswer> {
  const variant = rows[0].variant;
  const servable = engine && rows.length === 1;
  // Parameters our runners do not implement: only an engine serving this variant may take the request.
  const unsupported = engine ? unsupportedParams(engine.body) : [];
  const byEngine = servable && pool.targets().some((t) => t.kind === "openai" && t.models?.[variant]);
  if (unsupported.length && !byEngine)
    throw new ApiError(
      400,
      `${unsupported.map((p) => `"${p}"`).join(", ")} ${unsupported.length > 1 ? "are" : "is"} not supported by this gateway; leave ${unsupported.length > 1 ? "them" : "it"} out`,
      { param: unsupported[0], code: "unsupported_parameter" },
    );
  return pool.ok({
    path: "/v1/generate",
    body: { requests: rows, stream },
    field: clientField(input),
    kinds: servable ? (unsupported.length ? ["openai"] : ["runner", "openai"]) : ["runner"],
    accept: (t) => t.kind === "runner" || Boolean(t.models?.[variant]),
    pathFor: (t) => (t.kind === "runner" ? "/v1/generate" : engine!.path),
    bodyFor: (t) =>
      t.kind === "runner" ? { requests: rows, stream } : { ...engine!.body, model: t.models![variant] },
  });
}
