// The runner's wire contract on the gateway's side (gpu-runner/API.md): request bodies as zod schemas with
// the contract's caps, the answers' types, and how a broken rule maps to a status. The runner's copy is
// gpu-runner/runner/wire.py (pydantic); test/contract.test.ts and gpu-runner/tests/test_contract.py run one
// corpus of requests through both (and the fake runner) and expect the same statuses and error types.
import * as z from "zod"; // the namespace import lets a bundler drop what is unused
import { ApiError } from "../errors";

// Caps of the contract (runner/wire.py holds the same numbers).
export const MAX_ROWS = 32; // rows per /v1/generate or /v1/score call
export const MAX_STOP = 8; // stop strings per row
export const MAX_TOP_LOGPROBS = 20;
export const MAX_K = 64;
export const MAX_TEMPERATURE = 2;
export const MAX_SEED = Number.MAX_SAFE_INTEGER; // 2^53 - 1

// Below float64's smallest normal number (but not 0) a number is subnormal (5e-324): no client means one,
// and dividing by one overflows, so like NaN and Infinity (zod refuses those) it is a value out of range.
export const SMALLEST_NORMAL = 2.2250738585072014e-308;
const normal = (v: number) => v === 0 || Math.abs(v) >= SMALLEST_NORMAL;

/** A number in [lo, hi]; the message names both ends. A float must be finite and not subnormal. */
export const between = (lo: number, hi: number, int = false) =>
  int
    ? z.int().min(lo, `must be between ${lo} and ${hi}`).max(hi, `must be between ${lo} and ${hi}`)
    : z
        .number()
        .min(lo, `must be between ${lo} and ${hi}`)
        .max(hi, `must be between ${lo} and ${hi}`)
        .refine(normal, { message: `must be 0 or at least ${SMALLEST_NORMAL}`, params: { kind: "value" } });
export const atLeast = (lo: number) => z.int().min(lo, `must be at least ${lo}`);

const variant = z.string().min(1, "must be a variant name");
const tokenId = z.int().min(0, "must be a token id (>= 0)");
const text = z.string().min(1, "must not be empty");
export const stop = z.union([text, z.array(text).max(MAX_STOP, `must be at most ${MAX_STOP} strings`)]);
export const seed = between(0, MAX_SEED, true);
export const message = z.object({ role: z.string(), content: z.string() });
// Opt-in, off by default: true parses special-token strings in the row's text as control tokens.
export const specialTokens = z.boolean().optional();

export const GenerateRow = z
  .object({
    variant: variant.optional(),
    prompt: z.union([z.string(), z.array(tokenId)]).nullish(),
    messages: z.array(message).min(1, "must not be empty").nullish(),
    max_tokens: atLeast(1).optional(),
    temperature: between(0, MAX_TEMPERATURE).optional(),
    top_p: between(0, 1).optional(),
    seed: seed.nullish(),
    stop: stop.nullish(),
    add_bos: z.boolean().nullish(),
    logprobs: between(0, MAX_TOP_LOGPROBS, true).nullish(),
    parse_special_tokens: specialTokens,
    ignore_eos: z.boolean().optional(),
  })
  .refine((r) => (r.prompt == null) !== (r.messages == null), {
    message: "give exactly one of 'prompt' or 'messages'",
  });
export type Row = z.input<typeof GenerateRow> & { variant: string };

const rows = <T extends z.ZodType>(row: T) =>
  z.array(row).min(1, "must not be empty").max(MAX_ROWS, `must be at most ${MAX_ROWS} rows per call`);

export const GenerateRequest = z.object({ requests: rows(GenerateRow), stream: z.boolean().optional() });

export const ScoreRequest = z
  .object({
    requests: rows(
      z.object({
        variant: variant.optional(),
        context: z.string(),
        continuation: z.string(),
        parse_special_tokens: specialTokens,
      }),
    ),
    rolling: rows(
      z.object({ variant: variant.optional(), text: z.string(), parse_special_tokens: specialTokens }),
    ),
    echo: rows(
      z.object({
        variant: variant.optional(),
        prompt: z.union([z.string(), z.array(tokenId)]),
        top_logprobs: between(0, MAX_TOP_LOGPROBS, true).optional(),
        add_bos: z.boolean().nullish(),
        parse_special_tokens: specialTokens,
      }),
    ),
  })
  .partial()
  .refine((b) => [b.requests, b.rolling, b.echo].filter((x) => x != null).length === 1, {
    message: "give exactly one of 'requests', 'rolling' or 'echo'",
  });

export const TokenizeRequest = z.object({
  text: z.string(),
  add_bos: z.boolean().optional(),
  parse_special_tokens: specialTokens,
});
export const DetokenizeRequest = z.object({ tokens: z.array(tokenId) });
export const MassiveQuery = z.object({
  prompt: z.string().optional(),
  // Query strings are text: whole numbers only, then the range.
  k: z
    .string()
    .regex(/^\d+$/, "must be a whole number")
    .transform(Number)
    .pipe(between(1, MAX_K, true))
    .optional(),
  variant: variant.optional(),
});

/** The schema for each runner route the gateway calls with a body (or a query), by path. */
export const REQUESTS: Record<string, z.ZodType> = {
  "/v1/generate": GenerateRequest,
  "/v1/score": ScoreRequest,
  "/v1/tokenize": TokenizeRequest,
  "/v1/detokenize": DetokenizeRequest,
  "/v1/massive": MassiveQuery,
};

// -- answers ---------------------------------------------------------------------------------------------
export type Usage = { prompt_tokens: number; completion_tokens: number };
export type Logprobs = {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs?: (Record<string, number> | null)[];
  text_offset?: number[];
};
export type Result = {
  index: number;
  variant: string;
  text: string;
  tokens: number[];
  finish_reason: string;
  usage: Usage;
  timing_ms?: Record<string, number>;
  logprobs?: Logprobs;
};
/** One server-sent event of a streamed generation: a delta, or a row's last event. */
export type Event = {
  index: number;
  delta?: string;
  tokens?: number[];
  logprobs?: Logprobs;
  finish_reason?: string;
  usage?: Usage;
  timing_ms?: Record<string, number>;
};
export type Echo = {
  tokens: number[];
  token_strs: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
  text_offset: number[];
};

// -- errors ----------------------------------------------------------------------------------------------
/** `value` as the schema says, or the ApiError for its first broken rule (the runner maps pydantic's alike). */
export function check<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const r = schema.safeParse(value, { reportInput: true });
  if (r.success) return r.data;
  throw schemaError(r.error.issues);
}

type Issue = z.core.$ZodIssue;

export function schemaError(issues: Issue[]): ApiError {
  const issue = pick(issues, []);
  const param = paramOf(issue.path);
  const status = statusOf(issue);
  const got = "input" in issue && issue.input !== undefined ? `, got ${JSON.stringify(issue.input)}` : "";
  const message = `${param ? `"${param}" ` : ""}${issue.message}${status === 400 && issue.code === "custom" ? "" : got}`;
  return new ApiError(status, message.slice(0, 500), { param: param || null });
}

/** Wrong shape 400, a value out of range 422, too much 413: runner/wire.py's table. */
function statusOf(i: Issue): 400 | 413 | 422 {
  const sized = "origin" in i && (i.origin === "array" || i.origin === "string");
  if (i.code === "too_big") return sized ? 413 : 422;
  if (i.code === "too_small") return sized ? 400 : 422;
  if (i.code === "invalid_value" || i.code === "not_multiple_of") return 422;
  if (i.code === "custom" && i.params?.kind === "value") return 422;
  // NaN and Infinity (1e999 parses to Infinity) are numbers out of range, not a wrong shape.
  if (i.code === "invalid_type" && typeof i.input === "number" && !Number.isFinite(i.input)) return 422;
  if (i.code === "invalid_format" && "format" in i && i.format === "regex") return 400;
  return 400;
}

/** A union reports one list of issues per member: the deepest, else not a type mismatch, is meant. */
function pick(issues: Issue[], at: PropertyKey[]): Issue & { path: PropertyKey[] } {
  const flat = issues.flatMap((i) => {
    const path = [...at, ...i.path];
    return i.code === "invalid_union" && i.errors.length
      ? [pick(i.errors.flat(), path)]
      : [{ ...i, path } as Issue & { path: PropertyKey[] }];
  });
  const rank = (i: Issue) => i.path.length * 2 + (i.code === "invalid_type" ? 0 : 1);
  return flat.reduce((a, b) => (rank(b) > rank(a) ? b : a));
}

export const paramOf = (path: PropertyKey[]) =>
  path.reduce<string>(
    (s, p) => (typeof p === "number" ? `${s}[${p}]` : s ? `${s}.${String(p)}` : String(p)),
    "",
  );
