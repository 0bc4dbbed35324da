// Answers from an OpenAI-compatible engine (kind "openai") go back as they are, streams included, with
// only `model` renamed to ours so the client sees "<model>:<variant>".
import type { Ctx } from "../env";
import { mapSse, sseHeaders } from "./sse";

type EngineJson = { model?: string; usage?: { prompt_tokens?: number; completion_tokens?: number } };

export async function relayEngine(c: Ctx, res: Response, model: string, stream: boolean): Promise<Response> {
  const r = c.var.record;
  if (stream && res.body) {
    const mapped = mapSse(
      res.body,
      {
        event: (e) => {
          const j = e as EngineJson;
          if (j.usage)
            ((r.promptTokens = j.usage.prompt_tokens), (r.completionTokens = j.usage.completion_tokens));
          return [{ ...j, model }];
        },
        end: () => [],
      },
      c.var.config.runner.timeoutMs,
    );
    r.done = mapped.done;
    return c.body(mapped.stream, 200, sseHeaders);
  }
  const j = (await res.json()) as EngineJson;
  r.promptTokens = j.usage?.prompt_tokens;
  r.completionTokens = j.usage?.completion_tokens;
  return c.json({ ...j, model });
}
