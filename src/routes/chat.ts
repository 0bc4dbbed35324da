// POST /v1/chat/completions: OpenAI chat, streaming included, on a fixed variant ("house:macdrop") or the
// one an experiment assigns ("house"); the variant comes back in `model` and the x-house-variant header.
import { bool, int, num, onlyOne, optSeed, readJson, stops, type Json } from "../body";
import { invalid } from "../errors";
import type { Ctx } from "../env";
import { generate } from "../generate";
import { capMaxTokens, capPrompt } from "../limits";
import { chatChunks, chatCompletion, chatId, type RunnerResult } from "../openai/format";
import { relayEngine } from "../openai/engine";
import { mapSse, sseHeaders } from "../openai/sse";
import { routeModel } from "../variants";

type Message = { role: string; content: string };

export async function chatCompletions(c: Ctx): Promise<Response> {
  const b = await readJson(c);
  onlyOne(b, "chat completions");
  const messages = checkMessages(b.messages);
  const tokensParam = b.max_completion_tokens !== undefined ? "max_completion_tokens" : "max_tokens";
  const maxTokens = int(b, tokensParam, defaultMaxTokens(c), 1, 1 << 20);
  capMaxTokens(c, maxTokens, tokensParam);
  capPrompt(
    c,
    messages.reduce((s, m) => s + m.content.length, 0),
    "messages",
  );
  const stream = bool(b, "stream", false);
  const logprobs = bool(b, "logprobs", false) ? int(b, "top_logprobs", 0, 0, 20) : undefined;
  const row = {
    messages,
    max_tokens: maxTokens,
    temperature: num(b, "temperature", 1, 0, 2),
    top_p: num(b, "top_p", 1, 0, 1),
    seed: optSeed(b),
    stop: stops(b),
    logprobs,
  };
  const r = await routeModel(c, b, stream);

  const answer = await generate(c, [{ variant: r.variant, ...row }], stream, {
    path: "/v1/chat/completions",
    body: b,
  });
  if (answer.target.kind === "openai") return relayEngine(c, answer.res, r.model, stream);
  const id = chatId();
  if (stream) {
    const includeUsage = Boolean((b.stream_options as Json | undefined)?.include_usage);
    const { stream: body, done } = mapSse(
      answer.res.body!,
      chatChunks(id, r.model, includeUsage, (u) => {
        c.var.record.promptTokens = u.prompt_tokens;
        c.var.record.completionTokens = u.completion_tokens;
      }),
      c.var.config.runner.timeoutMs,
    );
    c.var.record.done = done;
    return c.body(body, 200, sseHeaders);
  }
  const { results } = (await answer.res.json()) as { results: RunnerResult[] };
  const res = results[0];
  c.var.record.promptTokens = res.usage?.prompt_tokens;
  c.var.record.completionTokens = res.usage?.completion_tokens;
  return c.json(chatCompletion(id, r.model, res));
}

export function defaultMaxTokens(c: Ctx): number {
  return c.var.auth.tier === "demo" ? c.var.config.demo.maxTokens : 256;
}

function checkMessages(v: unknown): Message[] {
  if (!Array.isArray(v) || v.length === 0)
    throw invalid(`"messages" must be a non-empty list of {role, content}`, "messages");
  return v.map((m, i) => {
    const role = (m as Json)?.role;
    let content = (m as Json)?.content;
    if (typeof role !== "string" || !["system", "user", "assistant", "developer"].includes(role))
      throw invalid(`messages[${i}].role must be "system", "user" or "assistant"`, `messages[${i}].role`);
    // Content parts: only text parts are meaningful to a text model.
    if (Array.isArray(content))
      content = content
        .map((p) => ((p as Json)?.type === "text" ? String((p as Json).text ?? "") : ""))
        .join("");
    if (typeof content !== "string")
      throw invalid(`messages[${i}].content must be a string`, `messages[${i}].content`);
    return { role: role === "developer" ? "system" : role, content };
  });
}
