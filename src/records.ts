// One D1 row per request, failed ones included, written after the answer with waitUntil. For a
// stream the row waits until the last byte has passed, so latency and token counts cover the whole answer,
// and its status is how the stream really ended (a runner cut off mid-answer, a timeout, a client gone), not
// the 200 its headers said. The row's id is the gateway's own; a client's x-request-id is a separate field.
// Rows go to D1 in batches: a row waits up to FLUSH_MS in a per-isolate buffer (at most MAX_ROWS rows), then
// one D1 batch writes them all. A write per request cost more than the rest of the gateway (bench/gateway).
// Every request's waitUntil holds the flush that carries its row, so no row is dropped when the answer ends.
import type { MiddlewareHandler } from "hono";
import { ApiError } from "./errors";
import type { AppEnv } from "./env";

const FLUSH_MS = 20;
const MAX_ROWS = 50;
const INSERT = `INSERT INTO requests (id, ts, method, route, key_id, tier, model, experiment, variant, status,
  error_type, latency_ms, prompt_tokens, completion_tokens, target, stream, client_request_id)
  VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`;

type Pending = { rows: unknown[][]; flushed: Promise<void> };
let pending: Pending | null = null;

/** Queues a row for the next batch; resolves once the batch is written (or has failed and been logged). */
function enqueue(db: D1Database, row: unknown[]): Promise<void> {
  if (!pending || pending.rows.length >= MAX_ROWS) {
    const batch: Pending = { rows: [], flushed: Promise.resolve() };
    batch.flushed = new Promise((r) => setTimeout(r, FLUSH_MS)).then(() => {
      if (pending === batch) pending = null;
      return flush(db, batch.rows);
    });
    pending = batch;
  }
  pending.rows.push(row);
  return pending.flushed;
}

/** One D1 batch (one transaction); if it fails, row by row, so one bad row loses only itself. */
async function flush(db: D1Database, rows: unknown[][]): Promise<void> {
  const stmt = db.prepare(INSERT);
  const ok = await db.batch(rows.map((r) => stmt.bind(...r))).then(
    () => true,
    () => false,
  );
  if (ok) return;
  for (const r of rows)
    await stmt
      .bind(...r)
      .run()
      .catch((e) => console.error("request record not written", e));
}

export function recordRequest(): MiddlewareHandler<AppEnv> {
  return async function recordRequest(c, next) {
    const id = crypto.randomUUID();
    const clientId = c.req.header("x-request-id")?.slice(0, 64) || null;
    c.set("requestId", id);
    c.set("startedAt", performance.now());
    c.set("record", {});
    c.set("auth", { tier: "none", keyId: null, client: "" });
    const ts = new Date().toISOString();
    await next();
    c.header("x-request-id", id);
    const sent = c.res.status;
    const sentType = c.error instanceof ApiError ? c.error.type : sent >= 400 ? "error" : null;
    const write = async () => {
      const r = c.var.record;
      const ended = await r.done?.catch(() => null);
      const [status, errorType] = ended ? [ended.status, ended.errorType] : [sent, sentType];
      await enqueue(c.env.DB, [
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
        clientId,
      ]);
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
  client_request_id: string | null;
};

/** A page of rows, newest first; `cursor` is the last row's "ts|id" from the previous page. */
export async function listRequests(
  db: D1Database,
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
  const { results } = await db
    .prepare(sql)
    .bind(...args, q.limit + 1)
    .all<RequestRow>();
  const page = results.slice(0, q.limit);
  const last = page.at(-1);
  return { data: page, next_cursor: results.length > q.limit && last ? `${last.ts}|${last.id}` : null };
}
