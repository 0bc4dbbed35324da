// The public API's request bodies (OpenAI's shapes and ours) as zod schemas: routes read bodies through them
// (routes/request.ts `readBody`), and GET /openapi.json documents them. Values the runner sees have their
// caps from the wire contract (runner/wire.ts), so the gateway and the runner cannot disagree about them.
// Objects are loose: OpenAI clients send fields we do not use, and an engine target gets them all.
import * as z from "zod";
import {
  atLeast,
  between,
  MAX_TEMPERATURE,
  MAX_TOP_LOGPROBS,
  seed,
  stop,
  TokenizeRequest,
} from "./runner/wire";

const topLogprobs = between(0, MAX_TOP_LOGPROBS, true);
const sampling = {
  temperature: between(0, MAX_TEMPERATURE).nullish(),
  top_p: between(0, 1).nullish(),
  seed: seed.nullish(),
  stop: stop.nullish(),
  ignore_eos: z.boolean().nullish(), // vLLM's: go on past EOS (fixed-length benchmarks)
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
  user: z.string().nullish(),
  // One sample per request: send one request per seed.
  n: z.literal(1, `must be 1: send one request per sample (seeded)`).nullish(),
  best_of: z.literal(1, `is not supported; leave it out`).nullish(),
  // Ours, off by default: true parses special-token strings in the text ("<|eos|>") as control tokens.
  parse_special_tokens: z.boolean().nullish(),
};

type Sampling = {
  temperature?: number | null;
  top_p?: number | null;
  seed?: number | null;
  stop?: string | string[] | null;
  parse_special_tokens?: boolean | null;
  ignore_eos?: boolean | null;
};

/** The sampling fields (and the text option) as a runner row takes them, with this route's defaults
 *  (OpenAI's: temperature 1). */
export function samplingRow(b: Sampling, defaults: { temperature: number; seed?: number }) {
  return {
    temperature: b.temperature ?? defaults.temperature,
    top_p: b.top_p ?? 1,
    seed: b.seed ?? defaults.seed,
    stop: b.stop ?? undefined,
    parse_special_tokens: b.parse_special_tokens ?? undefined,
    ignore_eos: b.ignore_eos ?? undefined,
  };
}

// OpenAI parameters this gateway's runners do not implement, each with its neutral value: present with any
// other value, the request is refused naming it (a client must not believe it got JSON mode or tool calls).
// An OpenAI-compatible engine target gets them as sent.
const NEUTRAL: Record<string, (v: unknown) => boolean> = {
  tools: (v) => Array.isArray(v) && v.length === 0,
  tool_choice: (v) => v === "none",
  parallel_tool_calls: () => true, // meaningless without tools
  functions: (v) => Array.isArray(v) && v.length === 0,
  function_call: (v) => v === "none",
  response_format: (v) => (v as { type?: unknown })?.type === "text",
  logit_bias: (v) => typeof v === "object" && v !== null && Object.keys(v).length === 0,
  presence_penalty: (v) => v === 0,
  frequency_penalty: (v) => v === 0,
  audio: () => false,
  modalities: (v) => Array.isArray(v) && v.every((m) => m === "text"),
  prediction: () => false,
  reasoning_effort: () => false,
  web_search_options: () => false,
};

/** The names of the unimplemented OpenAI parameters `body` sets to something other than their neutral value. */
export function unsupportedParams(body: Record<string, unknown>): string[] {
  return Object.entries(NEUTRAL)
    .filter(([k, neutral]) => body[k] != null && !neutral(body[k]))
    .map(([k]) => k);
}

const part = z.looseObject({ type: z.string(), text: z.string().optional() });
export const ChatMessage = z.looseObject({
  role: z.enum(["system", "user", "assistant", "developer"], 'must be "system", "user" or "assistant"'),
  // Content parts: only text parts mean something to a text model.
  content: z.union([z.string(), z.array(part)]),
});

export const ChatRequest = z.looseObject({
  model: z.string().optional(),
  messages: z.array(ChatMessage).min(1, "must be a non-empty list of {role, content}"),
  max_tokens: atLeast(1).nullish(),
  max_completion_tokens: atLeast(1).nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: topLogprobs.nullish(),
  ...sampling,
});

const tokenIds = z.array(z.int().min(0, "must be a token id (>= 0)")).min(1, "must not be empty");
export const CompletionRequest = z.looseObject({
  model: z.string().optional(),
  // One runner row per prompt; how many a call may carry is the runners' limit (limits.ts `capRequest`).
  prompt: z.union([
    z.string(),
    tokenIds,
    z.array(z.union([z.string(), tokenIds])).min(1, "must not be empty"),
  ]),
  max_tokens: atLeast(0).nullish(),
  echo: z.boolean().nullish(),
  logprobs: topLogprobs.nullish(),
  suffix: z.string().nullish(),
  ...sampling,
});

export const CompareRequest = z.looseObject({
  model: z.string().optional(),
  prompt: z.string().optional(),
  messages: z.array(z.object({ role: z.string(), content: z.string() })).optional(),
  variants: z.array(z.string()).min(1, "must list at least one variant (or be left out for all)").nullish(),
  max_tokens: atLeast(1).nullish(),
  top_logprobs: topLogprobs.nullish(),
  ...sampling,
});

/** vLLM's names are accepted too ("prompt", "add_special_tokens"), as lm-evaluation-harness sends them. */
export const PublicTokenizeRequest = z.looseObject({
  text: TokenizeRequest.shape.text.optional(),
  prompt: z.string().optional(),
  add_bos: z.boolean().optional(),
  add_special_tokens: z.boolean().optional(),
  parse_special_tokens: z.boolean().optional(),
});

export const NewKey = z.object({ name: z.string().trim().min(1, "must say whose key this is") });
