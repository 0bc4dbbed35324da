// The Workers environment, typed once and validated in one place: `config(env)` parses every variable and
// names the one that is wrong, so a bad wrangler.toml fails loudly on the first request, not deep in a route.
import type { StreamOutcome } from "./openai/sse";
import type { Context } from "hono";
import type { Target } from "./runner/targets";
import { parseTargets } from "./runner/targets";

export type Bindings = Cloudflare.Env & {
  ADMIN_TOKEN?: string; // secret: admin routes answer 401 without it
  RUNNER_TOKEN?: string; // secret: sent to our runners as "Authorization: Bearer"
  RUNNER?: Fetcher; // optional service binding: when bound, every runner call goes through it (tests)
  [secret: string]: unknown; // secrets named by targets (`secret` field), e.g. VLLM_API_KEY
};

export type Experiment = { name: string; model: string; arms: Record<string, number> };

export type Config = {
  model: string;
  targets: Target[];
  experiments: Experiment[];
  variants: string[];
  demo: {
    maxPromptChars: number;
    maxTokens: number;
    compareMaxTokens: number;
    variants: string[];
    maxInflightRows: number;
  };
  keyMaxTokens: number;
  keyMaxRequestTokens: number;
  keyMaxPromptChars: number;
  keyMaxInflightRows: number;
  maxBodyBytes: number;
  runner: { timeoutMs: number; retries: number; retryAfterCapMs: number };
};

/** Who is calling (set by the auth middleware). */
export type Auth = { tier: "key" | "demo" | "admin" | "none"; keyId: string | null; client: string };

export type Vars = {
  requestId: string;
  startedAt: number;
  config: Config;
  auth: Auth;
  record: RecordFields;
  admit: (rows: number) => void; // holds rows against the caller's in-flight bound (inflight.ts)
};

/** What a route tells the request record; the record middleware adds the rest. */
export type RecordFields = {
  model?: string;
  experiment?: string | null;
  variant?: string;
  promptTokens?: number;
  completionTokens?: number;
  target?: string;
  stream?: boolean;
  done?: Promise<StreamOutcome>; // resolves when a stream has passed to its last byte, with how it ended
};

export type AppEnv = { Bindings: Bindings; Variables: Vars };
export type Ctx = Context<AppEnv>;

const cache = new WeakMap<object, Config>();

export function config(env: Bindings): Config {
  const hit = cache.get(env);
  if (hit) return hit;
  const c: Config = {
    model: str(env, "MODEL", "house"),
    targets: parseTargets(env.RUNNER_TARGETS, "RUNNER_TARGETS"),
    experiments: parseExperiments(env.EXPERIMENTS ?? "[]"),
    variants: list(str(env, "VARIANTS", "base")),
    demo: {
      maxPromptChars: int(env, "DEMO_MAX_PROMPT_CHARS", 1000),
      maxTokens: int(env, "DEMO_MAX_TOKENS", 64),
      compareMaxTokens: int(env, "DEMO_COMPARE_MAX_TOKENS", 256), // max_tokens x variants on /v1/compare
      variants: list(str(env, "DEMO_VARIANTS", "base")),
      maxInflightRows: int(env, "DEMO_MAX_INFLIGHT_ROWS", 32),
    },
    keyMaxTokens: int(env, "KEY_MAX_TOKENS", 512), // the runners' default --max-tokens
    keyMaxRequestTokens: int(env, "KEY_MAX_REQUEST_TOKENS", 8192), // max_tokens x prompts
    keyMaxPromptChars: int(env, "KEY_MAX_PROMPT_CHARS", 262144), // all of a request's prompts together
    keyMaxInflightRows: int(env, "KEY_MAX_INFLIGHT_ROWS", 64), // rows generating or scoring at once
    maxBodyBytes: int(env, "MAX_BODY_BYTES", 1 << 20),
    runner: {
      timeoutMs: int(env, "RUNNER_TIMEOUT_MS", 60000),
      retries: int(env, "RUNNER_RETRIES", 2),
      retryAfterCapMs: int(env, "RUNNER_RETRY_AFTER_CAP_MS", 2000),
    },
  };
  cache.set(env, c);
  return c;
}

function str(env: Bindings, name: string, fallback: string): string {
  const v = (env as Record<string, unknown>)[name];
  if (v === undefined || v === "") return fallback;
  if (typeof v !== "string") throw new Error(`configuration: ${name} must be a string, got ${typeof v}`);
  return v;
}

function int(env: Bindings, name: string, fallback: number): number {
  const v = str(env, name, String(fallback));
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`configuration: ${name} must be a whole number >= 0, got "${v}"`);
  return n;
}

const list = (s: string) =>
  s
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);

export function parseExperiments(raw: string): Experiment[] {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (e) {
    throw new Error(`configuration: EXPERIMENTS is not JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(v))
    throw new Error("configuration: EXPERIMENTS must be a JSON array of {name, model, arms}");
  return v.map((x, i) => checkExperiment(x, `EXPERIMENTS[${i}]`));
}

export function checkExperiment(x: unknown, where: string): Experiment {
  const e = x as Experiment;
  if (
    !e ||
    typeof e.name !== "string" ||
    typeof e.model !== "string" ||
    typeof e.arms !== "object" ||
    !e.arms
  )
    throw new Error(`${where} must be {name: string, model: string, arms: {variant: weight}}`);
  const weights = Object.values(e.arms);
  if (
    weights.length === 0 ||
    weights.some((w) => typeof w !== "number" || !(w >= 0)) ||
    !weights.some((w) => w > 0)
  )
    throw new Error(`${where}.arms must map each variant to a weight >= 0, at least one above 0`);
  return { name: e.name, model: e.model, arms: e.arms };
}
