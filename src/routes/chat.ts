// POST /v1/chat/completions: OpenAI chat, streaming included, on a fixed variant ("house:macdrop") or the
// one an experiment assigns ("house"); the variant comes back in `model` and the x-house-variant header.
import type * as z from "zod";
import type { Ctx } from "../env";
import { capRequest } from "../limits";
import { chatChunks, chatCompletion, chatId } from "../openai/format";
import { generate } from "../runner/generate";
import type { Result } from "../runner/wire";
import { ChatRequest, samplingRow, type ChatMessage } from "../schemas";
import { poolFor, readBody, routeModel, servedFor } from "./request";
import { relayEngine, streamTail } from "./stream";

export async function chatCompletions(c: Ctx): Promise<Response> {
  const b = await readBody(c, ChatRequest);
  const { auth, config, record } = c.var;
  const messages = b.messages.map(plain);
  const tokensParam = b.max_completion_tokens != null ? "max_completion_tokens" : "max_tokens";
  const maxTokens = b[tokensParam] ?? defaultMaxTokens(auth.tier, config.demo.maxTokens);
  capRequest(auth, config, (await servedFor(c)).limits, {
    rows: 1,
    rowsParam: "messages",
    rowsNoun: "conversations",
    maxTokens,
    tokensParam,
    promptChars: messages.reduce((s, m) => s + m.content.length, 0),
    promptParam: "messages",
  });
  const stream = b.stream ?? false;
  const r = await routeModel(c, b, stream);
  c.var.admit(1);

  const row = {
    variant: r.variant,
    messages,
    max_tokens: maxTokens,
    ...samplingRow(b, { temperature: 1 }),
    logprobs: b.logprobs ? (b.top_logprobs ?? 0) : undefined,
  };
  const engine = { path: "/v1/chat/completions", body: b };
  const answer = await generate(poolFor(c), [row], stream, engine, () => "messages");
  if (answer.target.kind === "openai") return relayEngine(c, answer.res, r.model, stream);
  const id = chatId();
  if (stream) {
    const includeUsage = Boolean(b.stream_options?.include_usage);
    return streamTail(
      c,
      answer.res.body!,
      chatChunks(id, r.model, includeUsage, (u) => {
        record.promptTokens = u.prompt_tokens;
        record.completionTokens = u.completion_tokens;
      }),
    );
  }
  const { results } = (await answer.res.json()) as { results: Result[] };
  const res = results[0];
  record.promptTokens = res.usage?.prompt_tokens;
  record.completionTokens = res.usage?.completion_tokens;
  return c.json(chatCompletion(id, r.model, res));
}

const defaultMaxTokens = (tier: string, demoCap: number) => (tier === "demo" ? demoCap : 256);

/** A message as the runner takes it: text parts joined, "developer" as "system". */
function plain(m: z.output<typeof ChatMessage>): { role: string; content: string } {
  const content =
    typeof m.content === "string"
      ? m.content
      : m.content.map((p) => (p.type === "text" ? String(p.text ?? "") : "")).join("");
  return { role: m.role === "developer" ? "system" : m.role, content };
}
