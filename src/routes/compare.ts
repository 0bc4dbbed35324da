// POST /v1/compare: one prompt to several variants (default: all the caller may use) in ONE runner call,
// the answers side by side with latency, tokens, log-probabilities and divergence (src/compare.ts).
// With "stream": true the rows stream interleaved: {type: "delta"}, {type: "done"} per row, then {type: "summary"}.
import { bool, int, num, optSeed, readJson, stops, type Json } from "../body";
import { invalid } from "../errors";
import type { Ctx } from "../env";
import { generate } from "../generate";
import { capMaxTokens, capPrompt, capVariant } from "../limits";
import { finish, type RunnerEvent, type RunnerResult } from "../openai/format";
import { mapSse, sseHeaders } from "../openai/sse";
import { summary, type Side } from "../compare";
import { checkVariant, knownVariants } from "../variants";

const MAX_VARIANTS = 8;

export async function compare(c: Ctx): Promise<Response> {
  const b = await readJson(c);
  const name = c.var.config.model;
  if (b.model !== undefined && b.model !== name)
    throw invalid(`"model" must be "${name}" (or left out); pick variants with "variants"`, "model");
  const input = promptOrMessages(b);
  capPrompt(
    c,
    typeof input.prompt === "string"
      ? input.prompt.length
      : input.messages!.reduce((s, m) => s + m.content.length, 0),
    "prompt",
  );
  const maxTokens = int(
    b,
    "max_tokens",
    c.var.auth.tier === "demo" ? Math.min(32, c.var.config.demo.maxTokens) : 32,
    1,
    1 << 20,
  );
  capMaxTokens(c, maxTokens);
  const variants = await pickVariants(c, b.variants);
  const stream = bool(b, "stream", false);
  const row = {
    ...input,
    max_tokens: maxTokens,
    temperature: num(b, "temperature", 0, 0, 2),
    top_p: num(b, "top_p", 1, 0, 1),
    seed: optSeed(b) ?? 0,
    stop: stops(b),
    logprobs: int(b, "top_logprobs", 1, 0, 20),
  };
  Object.assign(c.var.record, { model: name, variant: variants.join(","), stream });
  const started = Date.now();
  const answer = await generate(
    c,
    variants.map((variant) => ({ variant, ...row })),
    stream,
  );
  const id = "cmp-" + crypto.randomUUID().replace(/-/g, "");
  const sides: Side[] = variants.map((variant) => ({
    variant,
    text: "",
    tokens: [],
    token_logprobs: [],
    finish_reason: null,
    usage: null,
    latency_ms: null,
  }));
  const record = () => {
    c.var.record.promptTokens = sides.reduce((s, x) => s + (x.usage?.prompt_tokens ?? 0), 0);
    c.var.record.completionTokens = sides.reduce((s, x) => s + (x.usage?.completion_tokens ?? 0), 0);
  };

  if (stream) {
    const { stream: body, done } = mapSse(
      answer.res.body!,
      {
        event(e) {
          const ev = e as RunnerEvent;
          const side = sides[ev.index];
          if (!side) return [];
          const out: unknown[] = [];
          if (ev.delta !== undefined || ev.tokens) {
            side.text += ev.delta ?? "";
            side.tokens.push(...(ev.tokens ?? []));
            side.token_logprobs.push(
              ...((ev.logprobs?.token_logprobs ?? []).filter((x) => x !== null) as number[]),
            );
            if (ev.delta)
              out.push({ type: "delta", index: ev.index, variant: side.variant, delta: ev.delta });
          }
          if (ev.finish_reason) {
            side.finish_reason = finish(ev.finish_reason);
            side.usage = ev.usage ?? null;
            side.latency_ms = ev.timing_ms?.total ?? Date.now() - started;
            out.push({
              type: "done",
              index: ev.index,
              variant: side.variant,
              finish_reason: side.finish_reason,
              usage: side.usage,
              latency_ms: side.latency_ms,
            });
          }
          return out;
        },
        end: () => {
          record();
          return [{ type: "summary", ...summary(id, name, sides) }];
        },
      },
      c.var.config.runner.timeoutMs,
    );
    c.var.record.done = done;
    return c.body(body, 200, sseHeaders);
  }
  const { results } = (await answer.res.json()) as { results: RunnerResult[] };
  results.forEach((r, i) => {
    const s = sides[r.index ?? i];
    s.text = r.text;
    s.tokens = r.tokens ?? [];
    s.token_logprobs = (r.logprobs?.token_logprobs ?? []).filter((x) => x !== null) as number[];
    s.finish_reason = finish(r.finish_reason);
    s.usage = r.usage;
    s.latency_ms = r.timing_ms?.total ?? Date.now() - started;
  });
  record();
  return c.json(summary(id, name, sides));
}

async function pickVariants(c: Ctx, v: unknown): Promise<string[]> {
  let variants: string[];
  if (v === undefined || v === null) {
    const known = await knownVariants(c);
    variants =
      c.var.auth.tier === "demo" ? c.var.config.demo.variants.filter((x) => known.includes(x)) : known;
  } else if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "string")) {
    variants = [...new Set(v as string[])];
  } else
    throw invalid(`"variants" must be a non-empty list of variant names (or left out for all)`, "variants");
  if (variants.length > MAX_VARIANTS)
    throw invalid(`at most ${MAX_VARIANTS} variants per comparison, got ${variants.length}`, "variants");
  for (const [i, x] of variants.entries()) {
    await checkVariant(c, x, `variants[${i}]`);
    capVariant(c, x, `variants[${i}]`);
  }
  return variants;
}

function promptOrMessages(b: Json): { prompt?: string; messages?: { role: string; content: string }[] } {
  if (typeof b.prompt === "string" && b.messages === undefined) return { prompt: b.prompt };
  if (
    b.prompt === undefined &&
    Array.isArray(b.messages) &&
    b.messages.every((m) => typeof m?.role === "string" && typeof m?.content === "string")
  )
    return { messages: b.messages as { role: string; content: string }[] };
  throw invalid(
    `send exactly one of "prompt" (a string) or "messages" (a list of {role, content})`,
    "prompt",
  );
}
