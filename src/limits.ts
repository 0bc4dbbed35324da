// Per-client rate limits (the Workers rate-limit binding) and the demo tier's caps. Each cap answers a
// 4xx whose message names the cap, its value and how to get past it.
import type { MiddlewareHandler } from "hono";
import { ApiError } from "./errors";
import type { AppEnv, Auth, Config } from "./env";

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

/** max_tokens within the caller's cap. The demo cap bounds the whole request (max_tokens times its `rows`
 *  prompts); a key's cap is the runner's per-row --max-tokens, and the contract bounds the rows (32). */
export function capMaxTokens(auth: Auth, cfg: Config, maxTokens: number, param = "max_tokens", rows = 1) {
  const demo = auth.tier === "demo";
  const cap = demo ? cfg.demo.maxTokens : cfg.keyMaxTokens;
  const total = demo ? maxTokens * rows : maxTokens;
  const what =
    rows > 1 && demo ? `${param} ${maxTokens} × ${rows} prompts = ${total} tokens` : `${param} ${total}`;
  if (total > cap)
    throw new ApiError(
      demo ? 403 : 422,
      demo
        ? `demo tier cap: ${what} is over the demo cap of ${cap} per request; lower it, or use an API key`
        : `${param} ${maxTokens} is over this gateway's cap of ${cap} (KEY_MAX_TOKENS)`,
      {
        param,
        code: demo ? "demo_max_tokens" : "max_tokens_cap",
      },
    );
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
