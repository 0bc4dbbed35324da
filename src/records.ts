// One D1 row per request (DESIGN §7), failed ones included, written after the answer with waitUntil. For a
// stream the row waits until the last byte has passed, so latency and token counts cover the whole answer.
import type { MiddlewareHandler } from "hono";
import { ApiError } from "./errors";
import type { AppEnv, Ctx } from "./env";

export function recordRequest(): MiddlewareHandler<AppEnv> {
  return async function recordRequest(c, next) {
    const id = c.req.header("x-request-id")?.slice(0, 64) || crypto.randomUUID();
    c.set("requestId", id);
    c.set("startedAt", performance.now());
    c.set("record", {});
    c.set("auth", { tier: "none", keyId: null, client: "" });
    const ts = new Date().toISOString();
    await next();
    c.header("x-request-id", id);
    const status = c.res.status;
    const errorType = c.error instanceof ApiError ? c.error.type : status >= 400 ? "error" : null;
    const write = async () => {
      const r = c.var.record;
      await r.done?.catch(() => undefined);
      await c.env.DB.prepare(
        `INSERT INTO requests (id, ts, method, route, key_id, tier, model, experiment, variant, status, error_type,
           latency_ms, prompt_tokens, completion_tokens, target, stream) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
      )
        .bind(
          id,
          ts,
          c.req.method,
          new URL(c.req.url).pathname,
          c.var.auth.keyId,
          c.var.auth.tier,
          r.model ?? null,
          r.experiment ?? null,
          r.variant ?? null,
          status,
          errorType,
          performance.now() - c.var.startedAt,
          r.promptTokens ?? null,
          r.completionTokens ?? null,
          r.target ?? null,
          r.stream ? 1 : 0,
        )
        .run()
        .catch((e) => console.error("request record not written", e));
    };
    c.executionCtx.waitUntil(write());
  };
}

export type RequestRow = {
  id: string;
  ts: string;
  method: string;
  route: string;
  key_id: string | null;
  tier: string;
  model: string | null;
  experiment: string | null;
  variant: string | null;
  status: number;
  error_type: string | null;
  latency_ms: number;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  target: string | null;
  stream: number;
};

/** A page of rows, newest first; `cursor` is the last row's "ts|id" from the previous page. */
export async function listRequests(
  c: Ctx,
  q: { experiment?: string; variant?: string; status?: number; limit: number; cursor?: string },
): Promise<{ data: RequestRow[]; next_cursor: string | null }> {
  const where: string[] = [];
  const args: unknown[] = [];
  if (q.experiment) (where.push("experiment = ?"), args.push(q.experiment));
  if (q.variant) (where.push("variant = ?"), args.push(q.variant));
  if (q.status) (where.push("status = ?"), args.push(q.status));
  if (q.cursor) {
    const [ts, id] = q.cursor.split("|");
    (where.push("(ts < ? OR (ts = ? AND id < ?))"), args.push(ts, ts, id ?? ""));
  }
  const sql = `SELECT * FROM requests ${where.length ? "WHERE " + where.join(" AND ") : ""} ORDER BY ts DESC, id DESC LIMIT ?`;
  const { results } = await c.env.DB.prepare(sql)
    .bind(...args, q.limit + 1)
    .all<RequestRow>();
  const page = results.slice(0, q.limit);
  const last = page.at(-1);
  return { data: page, next_cursor: results.length > q.limit && last ? `${last.ts}|${last.id}` : null };
}
