// The tail of every streamed answer, in one place: map the runner's (or engine's) server-sent events to the
// client's, let the request record wait for the last byte, and respond. Chat, completions, compare and the
// engine relay all end here.
import type { Ctx } from "../env";
import { mapSse, sseHeaders, type SseMapper } from "../openai/sse";

export function streamTail(c: Ctx, body: ReadableStream<Uint8Array>, mapper: SseMapper): Response {
  const { stream, done } = mapSse(body, mapper, c.var.config.runner.timeoutMs);
  c.var.record.done = done;
  return c.body(stream, 200, sseHeaders);
}

type EngineJson = { model?: string; usage?: { prompt_tokens?: number; completion_tokens?: number } };

/** An OpenAI-compatible engine's answer as it is, streams included, with only `model` renamed to ours. */
export async function relayEngine(c: Ctx, res: Response, model: string, stream: boolean): Promise<Response> {
  const r = c.var.record;
  const count = (j: EngineJson) => {
    if (j.usage) ((r.promptTokens = j.usage.prompt_tokens), (r.completionTokens = j.usage.completion_tokens));
    return { ...j, model };
  };
  if (stream && res.body)
    return streamTail(c, res.body, { event: (e) => [count(e as EngineJson)], end: () => [] });
  return c.json(count((await res.json()) as EngineJson));
}
