// Per-client rate limits (the Workers rate-limit binding), the demo tier's caps and an API key's caps on one
// request. Each cap answers a 4xx whose message names the cap, its value and how to get past it.
import type { MiddlewareHandler } from "hono";
import { ApiError } from "./errors";
import type { AppEnv, Auth, Config } from "./env";
import type { RunnerLimits } from "./runner/served";

const RATE_LIMITS = {
  demo: {
    binding: "DEMO_LIMITER",
    code: "demo_rate_limit",
    message:
      "rate limit: the public demo tier allows 30 requests a minute per client; wait a minute, or use an API key",
  },
  key: {
    binding: "KEY_LIMITER",
    code: "key_rate_limit",
    message: "rate limit: this API key allows 600 requests a minute; slow down and retry",
  },
} as const;

export function rateLimit(): MiddlewareHandler<AppEnv> {
  return async function rateLimit(c, next) {
    const { tier, keyId, client } = c.var.auth;
    const limit = tier === "demo" ? RATE_LIMITS.demo : tier === "key" && keyId ? RATE_LIMITS.key : null;
    if (limit) {
      const { success } = await c.env[limit.binding].limit({
        key: tier === "demo" ? `demo:${client}` : `key:${keyId}`,
      });
      if (!success)
        throw new ApiError(429, limit.message, { code: limit.code, headers: { "retry-after": "60" } });
    }
    return next();
  };
}

/** What a request asks of the runners, in the client's own field names. */
export type RequestSize = {
  rows: number; // runner rows it becomes (prompts, or variants on /v1/compare)
  rowsParam: string; // the field that makes them: "prompt", "variants", "messages"
  rowsNoun: string; // "prompts", "variants"
  maxTokens: number; // per row
  tokensParam: string;
  promptChars: number; // all prompts' characters together
  promptParam: string;
  idPrompts?: { param: string; tokens: number }[]; // token-id prompts, whose length is exact here
};

/** The whole request within the caller's caps and the runners' limits (their /health "limits"): rows per
 *  call, max_tokens per row and in all (max_tokens x rows), the prompts' characters in all, and token-id
 *  prompts within the runners' prompt limit. A text prompt's tokens are counted by the runner; its 413 is
 *  renamed to the client's field (runner/pool.ts `runnerError`). Demo caps answer 403/413 as they did. */
export function capRequest(auth: Auth, cfg: Config, runner: RunnerLimits, r: RequestSize) {
  const demo = auth.tier === "demo";
  if (r.rows > runner.maxRows)
    throw new ApiError(
      413,
      `${r.rows} ${r.rowsNoun} in one request; the runners take at most ${runner.maxRows} per call: send them in batches of at most ${runner.maxRows}`,
      { param: r.rowsParam, code: `too_many_${r.rowsNoun}` },
    );
  const perRow = Math.min(demo ? cfg.demo.maxTokens : cfg.keyMaxTokens, runner.maxTokens ?? Infinity);
  const total = r.maxTokens * r.rows;
  const what =
    r.rows > 1 ? `${r.tokensParam} ${r.maxTokens} × ${r.rows} ${r.rowsNoun} = ${total} tokens` : "";
  const compare = r.rowsNoun === "variants";
  const demoTotal = compare ? cfg.demo.compareMaxTokens : cfg.demo.maxTokens;
  if (demo && (r.maxTokens > perRow || total > demoTotal)) {
    const cap = r.maxTokens > perRow ? perRow : demoTotal;
    throw new ApiError(
      403,
      `demo tier cap: ${what || `${r.tokensParam} ${r.maxTokens}`} is over the demo cap of ${cap} per request${compare ? " (DEMO_COMPARE_MAX_TOKENS)" : ""}; lower it, or use an API key`,
      { param: r.tokensParam, code: "demo_max_tokens" },
    );
  }
  if (r.maxTokens > perRow)
    throw new ApiError(
      422,
      perRow === cfg.keyMaxTokens
        ? `${r.tokensParam} ${r.maxTokens} is over this gateway's cap of ${perRow} (KEY_MAX_TOKENS)`
        : `${r.tokensParam} ${r.maxTokens} is over the runners' cap of ${perRow} per answer (their --max-tokens)`,
      { param: r.tokensParam, code: "max_tokens_cap" },
    );
  if (!demo && total > cfg.keyMaxRequestTokens)
    throw new ApiError(
      413,
      `${what} is over this gateway's cap of ${cfg.keyMaxRequestTokens} per request (KEY_MAX_REQUEST_TOKENS); lower ${r.tokensParam} or split the ${r.rowsNoun}`,
      { param: r.tokensParam, code: "request_tokens_cap" },
    );
  if (demo) capPrompt(auth, cfg, r.promptChars, r.promptParam);
  else if (r.promptChars > cfg.keyMaxPromptChars)
    throw new ApiError(
      413,
      `the prompts are ${r.promptChars} characters in all, over this gateway's cap of ${cfg.keyMaxPromptChars} per request (KEY_MAX_PROMPT_CHARS); split them`,
      { param: r.promptParam, code: "prompt_length_cap" },
    );
  const longest = runner.maxPromptTokens;
  for (const p of r.idPrompts ?? [])
    if (longest !== null && p.tokens > longest)
      throw new ApiError(413, `${p.param} has ${p.tokens} tokens; the runners take at most ${longest}`, {
        param: p.param,
        code: "prompt_too_long",
      });
}

/** Prompt length (characters, all of a request's prompts together) within the demo cap. */
export function capPrompt(auth: Auth, cfg: Config, chars: number, param: string) {
  if (auth.tier !== "demo") return;
  const cap = cfg.demo.maxPromptChars;
  if (chars > cap)
    throw new ApiError(
      413,
      `demo tier cap: the prompt is ${chars} characters, over the demo cap of ${cap}; shorten it, or use an API key`,
      {
        param,
        code: "demo_prompt_length",
      },
    );
}

/** Variants the demo tier may use. */
export function capVariant(auth: Auth, cfg: Config, variant: string, param: string) {
  if (auth.tier !== "demo") return;
  const allowed = cfg.demo.variants;
  if (!allowed.includes(variant))
    throw new ApiError(
      403,
      `demo tier cap: variant "${variant}" is not open to the demo tier (allowed: ${allowed.join(", ")}); use an API key for the others`,
      {
        param,
        code: "demo_variant",
      },
    );
}

export function requireKey(auth: Auth, what: string) {
  if (auth.tier === "demo")
    throw new ApiError(401, `${what} needs an API key: send "Authorization: Bearer <key>"`, {
      code: "missing_api_key",
    });
}
