// Runner answers (runner/wire.ts) in OpenAI's shapes: chat.completion, text_completion, their stream
// chunks, and the two logprobs formats (chat's `content` list and the legacy completions one).
import type { Event, Logprobs, Result, Usage } from "../runner/wire";
import type { SseMapper } from "./sse";

const now = () => Math.floor(Date.now() / 1000);
export const finish = (r: string | undefined) => (r === "length" ? "length" : r ? "stop" : null);
const usageOf = (u: Usage[]) => {
  const prompt_tokens = u.reduce((s, x) => s + (x?.prompt_tokens ?? 0), 0);
  const completion_tokens = u.reduce((s, x) => s + (x?.completion_tokens ?? 0), 0);
  return { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens };
};

function chatLogprobs(lp: Logprobs | undefined) {
  if (!lp) return null;
  const bytes = (s: string) => [...new TextEncoder().encode(s)];
  return {
    content: lp.tokens.map((token, i) => ({
      token,
      logprob: lp.token_logprobs[i] ?? 0,
      bytes: bytes(token),
      top_logprobs: Object.entries(lp.top_logprobs?.[i] ?? {}).map(([t, logprob]) => ({
        token: t,
        logprob,
        bytes: bytes(t),
      })),
    })),
  };
}

export function chatCompletion(id: string, model: string, r: Result) {
  return {
    id,
    object: "chat.completion",
    created: now(),
    model,
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: r.text, refusal: null },
        logprobs: chatLogprobs(r.logprobs),
        finish_reason: finish(r.finish_reason),
      },
    ],
    usage: usageOf([r.usage]),
  };
}

export function chatChunks(
  id: string,
  model: string,
  includeUsage: boolean,
  onUsage: (u: Usage) => void,
): SseMapper {
  const created = now();
  const base = { id, object: "chat.completion.chunk", created, model };
  let usage: Usage | null = null;
  let started = false;
  return {
    event(e) {
      const ev = e as Event;
      const out: unknown[] = [];
      if (!started) {
        started = true;
        out.push({
          ...base,
          choices: [
            { index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null },
          ],
        });
      }
      if (ev.delta)
        out.push({
          ...base,
          choices: [
            {
              index: 0,
              delta: { content: ev.delta },
              logprobs: chatLogprobs(ev.logprobs),
              finish_reason: null,
            },
          ],
        });
      if (ev.finish_reason) {
        usage = ev.usage ?? null;
        if (usage) onUsage(usage);
        out.push({
          ...base,
          choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: finish(ev.finish_reason) }],
        });
      }
      return out;
    },
    end: () => (includeUsage ? [{ ...base, choices: [], usage: usageOf(usage ? [usage] : []) }] : []),
  };
}

/** Legacy completions logprobs; `offset` is where the first token's text starts. */
export function legacyLogprobs(lp: Logprobs, offset: number) {
  let at = offset;
  const text_offset = lp.text_offset ?? lp.tokens.map((t) => ((at += t.length), at - t.length));
  return {
    tokens: lp.tokens,
    token_logprobs: lp.token_logprobs,
    top_logprobs: lp.top_logprobs ?? lp.tokens.map(() => null),
    text_offset,
  };
}

export type Choice = {
  index: number;
  text: string;
  logprobs: ReturnType<typeof legacyLogprobs> | null;
  finish_reason: string | null;
};

export function textCompletion(id: string, model: string, choices: Choice[], usage: Usage[]) {
  return { id, object: "text_completion", created: now(), model, choices, usage: usageOf(usage) };
}

export function completionChunks(
  id: string,
  model: string,
  prompts: string[],
  includeUsage: boolean,
  onUsage: (u: Usage[]) => void,
): SseMapper {
  const created = now();
  const base = { id, object: "text_completion", created, model };
  const usage: Usage[] = [];
  const offsets = prompts.map((p) => p.length);
  return {
    event(e) {
      const ev = e as Event;
      const out: unknown[] = [];
      if (ev.delta) {
        const lp = ev.logprobs ? legacyLogprobs(ev.logprobs, offsets[ev.index] ?? 0) : null;
        offsets[ev.index] = (offsets[ev.index] ?? 0) + ev.delta.length;
        out.push({
          ...base,
          choices: [{ index: ev.index, text: ev.delta, logprobs: lp, finish_reason: null }],
        });
      }
      if (ev.finish_reason) {
        if (ev.usage) usage.push(ev.usage);
        out.push({
          ...base,
          choices: [{ index: ev.index, text: "", logprobs: null, finish_reason: finish(ev.finish_reason) }],
        });
      }
      return out;
    },
    end: () => {
      onUsage(usage);
      return includeUsage ? [{ ...base, choices: [], usage: usageOf(usage) }] : [];
    },
  };
}

export const chatId = () => "chatcmpl-" + crypto.randomUUID().replace(/-/g, "");
export const cmplId = () => "cmpl-" + crypto.randomUUID().replace(/-/g, "");
