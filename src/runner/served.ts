// What the runners serve, read from their /health and cached per isolate: the variants, and the limits each
// runner reports under "limits" (max_tokens and max_prompt_tokens per row, max_rows per call). The gateway
// checks a request against the strictest runner's limits before sending it (src/limits.ts `capRequest`), so
// a client hears about its own fields, never a runner's "requests[3]".
import { TtlCache } from "../cache";
import type { RunnerPool } from "./pool";
import { MAX_ROWS } from "./wire";

/** A runner's limits; null where no runner said (an OpenAI engine, an older runner): the gateway's caps hold. */
export type RunnerLimits = { maxTokens: number | null; maxPromptTokens: number | null; maxRows: number };
export type Served = { variants: string[]; limits: RunnerLimits };

// Variants change only when an admin registers one, limits only when a runner restarts: 15 s keeps /health
// off every request. One entry: a deployment has one target list.
const cache = new TtlCache<"served", Served>(15_000, 1);

/** Drops the cached answer (tests that switch to runners with other limits). */
export function forgetServed() {
  cache.clear();
}

type HealthLimits = { max_tokens?: unknown; max_prompt_tokens?: unknown; max_rows?: unknown };

/** The runners' variants and limits; `fallback` variants (VARIANTS) while none answers, uncached. */
export async function served(pool: RunnerPool, fallback: string[]): Promise<Served> {
  const hit = cache.get("served");
  if (hit) return hit;
  const up = (await pool.health()).filter((h) => h.ok);
  const reported = up.map((h) => (h.limits ?? {}) as HealthLimits);
  const least = (name: keyof HealthLimits) => {
    const values = reported
      .map((l) => l[name])
      .filter((v): v is number => Number.isInteger(v) && (v as number) > 0);
    return values.length ? Math.min(...values) : null;
  };
  const limits = {
    maxTokens: least("max_tokens"),
    maxPromptTokens: least("max_prompt_tokens"),
    maxRows: Math.min(MAX_ROWS, least("max_rows") ?? MAX_ROWS),
  };
  if (up.length === 0) return { variants: fallback, limits };
  return cache.set("served", { variants: [...new Set(up.flatMap((h) => h.variants))], limits });
}
