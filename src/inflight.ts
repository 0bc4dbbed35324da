// A bound on the runner rows one caller has in flight at once (issue 11, item 5). Each API key may have at
// most KEY_MAX_INFLIGHT_ROWS rows generating or scoring (each demo client DEMO_MAX_INFLIGHT_ROWS); a request
// that would pass the bound answers 429 with Retry-After and reaches no runner, and one that is over it on
// its own answers 413. Rows are held from the moment a route admits them until the answer's last byte (a
// stream's end, a client gone, an error).
//
// The policy, with the runner's half: the runner runs one scoring chunk per decode step, round robin across
// calls (runner/scheduler.py), so a small request waits for a chunk, not a whole score; this bound keeps one
// key from filling the runner's queue (--max-queue-rows, then 503 for everyone) with its own rows.
//
// The count lives in the isolate's memory: deployed, Workers run many isolates in many locations, so the
// bound holds per isolate, not across the fleet (a Durable Object per key would make it exact, at the cost
// of a round trip per request). The rate limit (limits.ts) still bounds a key's requests over time.
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./env";
import { ApiError } from "./errors";

const held = new Map<string, number>(); // caller -> rows in flight

/** Sets c.var.admit(rows), which routes call before they reach a runner; releases the rows at the end. */
export function boundRows(): MiddlewareHandler<AppEnv> {
  return async function boundRows(c, next) {
    const { tier, keyId, client } = c.var.auth;
    const who = keyId ? `key:${keyId}` : `demo:${client}`;
    const demo = tier === "demo";
    const cap = demo ? c.var.config.demo.maxInflightRows : c.var.config.keyMaxInflightRows;
    const name = demo ? "DEMO_MAX_INFLIGHT_ROWS" : "KEY_MAX_INFLIGHT_ROWS";
    let mine = 0;
    c.set("admit", (rows: number) => {
      if (rows > cap)
        throw new ApiError(
          413,
          `${rows} rows in one request is over the cap of ${cap} rows in flight per ${demo ? "client" : "key"} (${name}); send fewer prompts`,
          { code: "inflight_rows_cap" },
        );
      const now = held.get(who) ?? 0;
      if (now + rows > cap)
        throw new ApiError(
          429,
          `this ${demo ? "client" : "key"} has ${now} rows in flight; ${rows} more would pass its cap of ${cap} (${name}): retry when an answer has ended`,
          { code: "inflight_rows", headers: { "retry-after": "1" } },
        );
      held.set(who, now + rows);
      mine += rows;
    });
    const release = () => {
      if (mine === 0) return;
      const left = (held.get(who) ?? 0) - mine;
      if (left > 0) held.set(who, left);
      else held.delete(who);
      mine = 0;
    };
    try {
      await next();
    } finally {
      const done = c.var.record.done;
      if (done) void done.finally(release);
      else release();
    }
  };
}
