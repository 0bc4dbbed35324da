// POST /v1/compare: one prompt to several variants (default: all the caller may use) in ONE runner call,
// the answers side by side with latency, tokens, log-probabilities and divergence (src/compare.ts).
// With "stream": true the rows stream interleaved: {type: "delta"}, {type: "done"} per row, then {type: "summary"}.
import type { Auth, Config, Ctx } from "../env";
import { invalid } from "../errors";
import { capRequest, capVariant } from "../limits";
import { finish } from "../openai/format";
import { generate } from "../runner/generate";
import type { Event, Result } from "../runner/wire";
import { summary, type Side } from "../compare";
import { CompareRequest, samplingRow } from "../schemas";
import { checkVariant } from "../variants";
import { poolFor, readBody, servedFor } from "./request";
import { streamTail } from "./stream";

const MAX_VARIANTS = 8;

export async function compare(c: Ctx): Promise<Response> {
  const b = await readBody(c, CompareRequest);
  const { auth, config, record } = c.var;
  const name = config.model;
  if (b.model !== undefined && b.model !== name)
    throw invalid(`"model" must be "${name}" (or left out); pick variants with "variants"`, "model");
  const input = promptOrMessages(b);
  const { variants: known, limits } = await servedFor(c);
  const variants = pickVariants(auth, config, known, b.variants ?? undefined);
  // Every variant answers the prompt: the demo's cap is on max_tokens x variants (DEMO_COMPARE_MAX_TOKENS).
  const fits = Math.floor(config.demo.compareMaxTokens / variants.length);
  const maxTokens = b.max_tokens ?? (auth.tier === "demo" ? Math.max(1, Math.min(32, fits)) : 32);
  const inputParam = input.prompt !== undefined ? "prompt" : "messages";
  capRequest(auth, config, limits, {
    rows: variants.length,
    rowsParam: "variants",
    rowsNoun: "variants",
    maxTokens,
    tokensParam: "max_tokens",
    promptChars:
      input.prompt !== undefined
        ? input.prompt.length
        : input.messages!.reduce((s, m) => s + m.content.length, 0),
    promptParam: inputParam,
  });
  const stream = b.stream ?? false;
  const row = {
    ...input,
    max_tokens: maxTokens,
    ...samplingRow(b, { temperature: 0, seed: 0 }), // greedy and seeded: the variants differ, not the draws
    logprobs: b.top_logprobs ?? 1,
  };
  Object.assign(record, { model: name, variant: variants.join(","), stream });
  c.var.admit(variants.length);
  const started = Date.now();
  const answer = await generate(
    poolFor(c),
    variants.map((variant) => ({ variant, ...row })),
    stream,
    undefined,
    () => inputParam,
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
  const count = () => {
    record.promptTokens = sides.reduce((s, x) => s + (x.usage?.prompt_tokens ?? 0), 0);
    record.completionTokens = sides.reduce((s, x) => s + (x.usage?.completion_tokens ?? 0), 0);
  };

  if (stream) {
    return streamTail(c, answer.res.body!, {
      event(e) {
        const ev = e as Event;
        const side = sides[ev.index];
        if (!side) return [];
        const out: unknown[] = [];
        if (ev.delta !== undefined || ev.tokens) {
          side.text += ev.delta ?? "";
          side.tokens.push(...(ev.tokens ?? []));
          side.token_logprobs.push(
            ...((ev.logprobs?.token_logprobs ?? []).filter((x) => x !== null) as number[]),
          );
          if (ev.delta) out.push({ type: "delta", index: ev.index, variant: side.variant, delta: ev.delta });
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
        count();
        return [{ type: "summary", ...summary(id, name, sides) }];
      },
    });
  }
  const { results } = (await answer.res.json()) as { results: Result[] };
  results.forEach((r, i) => {
    const s = sides[r.index ?? i];
    s.text = r.text;
    s.tokens = r.tokens ?? [];
    s.token_logprobs = (r.logprobs?.token_logprobs ?? []).filter((x) => x !== null) as number[];
    s.finish_reason = finish(r.finish_reason);
    s.usage = r.usage;
    s.latency_ms = r.timing_ms?.total ?? Date.now() - started;
  });
  count();
  return c.json(summary(id, name, sides));
}

/** The variants to compare: those asked for (each known, demo-capped), or all the caller may use. */
function pickVariants(auth: Auth, cfg: Config, known: string[], asked: string[] | undefined): string[] {
  const variants = asked
    ? [...new Set(asked)]
    : auth.tier === "demo"
      ? cfg.demo.variants.filter((x) => known.includes(x))
      : known;
  if (variants.length > MAX_VARIANTS)
    throw invalid(`at most ${MAX_VARIANTS} variants per comparison, got ${variants.length}`, "variants");
  for (const [i, x] of variants.entries()) {
    checkVariant(known, x, `variants[${i}]`);
    capVariant(auth, cfg, x, `variants[${i}]`);
  }
  return variants;
}

type Input = { prompt?: string; messages?: { role: string; content: string }[] };

function promptOrMessages(b: Input): Input {
  if (b.prompt !== undefined && b.messages === undefined) return { prompt: b.prompt };
  if (b.prompt === undefined && b.messages !== undefined) return { messages: b.messages };
  throw invalid(
    `send exactly one of "prompt" (a string) or "messages" (a list of {role, content})`,
    "prompt",
  );
}
