// All talk to runners goes through here: targets in order with failover, a timeout per attempt
// (AbortController, up to the response headers, and for a stream up to its first byte), retries only on
// 429/503 honouring Retry-After up to a cap,
// passive health (a target that failed is tried last for a while) and active /health checks. A runner that
// answers 500 answered: its error is the client's, and it is not marked down.
// Bodies are returned as they come, so streams pass through unbuffered. A body for one of our runners is
// checked against the wire contract (wire.ts) before it leaves, so a gateway bug is caught here, not there.
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ApiError } from "../errors";
import type { Bindings, Config } from "../env";
import { fetcherFor, tokenFor, type Target } from "./targets";
import { check, REQUESTS } from "./wire";

export type RunnerCall = {
  method?: "GET" | "POST";
  path: string; // e.g. /v1/generate
  pathFor?: (t: Target) => string; // a per-target path (openai engines get /v1/chat/completions)
  body?: unknown; // for our runners (checked against the contract)
  kinds?: Target["kind"][]; // which kinds of target can serve this call (default: runner)
  accept?: (t: Target) => boolean; // further filter, e.g. the engine serves the variant
  bodyFor?: (t: Target) => unknown; // a per-target body (openai engines get their model names)
  field?: (runnerField: string) => string; // the client's name for a runner's field, in its 4xx
};

/** Per request: the client's signal (aborting it cancels the runner call) and who hears which target answered. */
export type PoolOptions = { signal?: AbortSignal; onTarget?: (t: Target) => void };

export type RunnerAnswer = { res: Response; target: Target; attempts: number };

const downUntil = new Map<string, number>(); // target name -> epoch ms; per isolate
const DOWN_FOR_MS = 10_000;

export class RunnerPool {
  constructor(
    private env: Bindings,
    private cfg: Config,
    private opts: PoolOptions = {},
  ) {}

  /** The call, or the runner's own 4xx (status, type, message, param) as the client's error. */
  async ok(call: RunnerCall): Promise<RunnerAnswer> {
    const answer = await this.call(call);
    if (!answer.res.ok) throw await runnerError(answer.res, answer.target, call.field);
    return answer;
  }

  /** `ok`, then the answer's JSON. */
  async json<T>(call: RunnerCall): Promise<T> {
    return (await (await this.ok(call)).res.json()) as T;
  }

  targets(): Target[] {
    const now = Date.now();
    const up = this.cfg.targets.filter((t) => (downUntil.get(t.name) ?? 0) <= now);
    const down = this.cfg.targets.filter((t) => (downUntil.get(t.name) ?? 0) > now);
    return [...up, ...down];
  }

  async call(call: RunnerCall): Promise<RunnerAnswer> {
    const schema = REQUESTS[call.path];
    if (schema && call.body !== undefined) check(schema, call.body);
    const kinds = call.kinds ?? ["runner"];
    const candidates = this.targets().filter((t) => kinds.includes(t.kind) && (call.accept?.(t) ?? true));
    if (candidates.length === 0)
      throw new ApiError(
        503,
        `no runner target can serve ${call.path}: configure one of kind ${kinds.join(" or ")}`,
      );
    const failures: string[] = [];
    let timedOut = false;
    let attempts = 0;
    for (const target of candidates) {
      for (let retry = 0; ; retry++) {
        attempts++;
        const outcome = await this.attempt(target, call);
        if (outcome.kind === "response") {
          const { res } = outcome;
          if ((res.status === 429 || res.status === 503) && retry < this.cfg.runner.retries) {
            await res.body?.cancel();
            await sleep(
              Math.min(retryAfterMs(res.headers.get("retry-after")), this.cfg.runner.retryAfterCapMs),
            );
            continue;
          }
          // A 500 is the runner's answer about this request (a bug its input hit), not a sign it is down:
          // passed on as it is, with no failover (which would hand the same input to the next runner).
          if (res.status === 429 || (res.status >= 500 && res.status !== 500)) {
            failures.push(`${target.name}: HTTP ${res.status}`);
            markDown(target);
            await res.body?.cancel();
            break;
          }
          downUntil.delete(target.name);
          this.opts.onTarget?.(target);
          return { res, target, attempts };
        }
        // The client is gone and will not read this; the record keeps why the call ended.
        if (this.opts.signal?.aborted)
          throw new ApiError(400, "the client closed the request", { code: "client_closed_request" });
        timedOut ||= outcome.kind === "timeout";
        failures.push(`${target.name}: ${outcome.reason}`);
        markDown(target);
        break;
      }
    }
    const detail = failures.join("; ");
    if (timedOut && failures.length === candidates.length)
      throw new ApiError(504, `the runner timed out (${detail}); try again, or ask for fewer tokens`, {
        type: "runner_timeout",
      });
    throw new ApiError(503, `no runner answered (${detail}); try again shortly`, {
      headers: { "retry-after": "1" },
    });
  }

  private async attempt(
    target: Target,
    call: RunnerCall,
  ): Promise<{ kind: "response"; res: Response } | { kind: "timeout" | "error"; reason: string }> {
    const ctl = new AbortController();
    const signal = this.opts.signal;
    const onAbort = () => ctl.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort);
    const timer = setTimeout(() => ctl.abort(), this.cfg.runner.timeoutMs);
    const headers: Record<string, string> = { accept: "application/json, text/event-stream" };
    const token = tokenFor(this.env, target);
    if (token) headers.authorization = `Bearer ${token}`;
    const body = call.bodyFor ? call.bodyFor(target) : call.body;
    if (body !== undefined) headers["content-type"] = "application/json";
    try {
      const req = new Request(target.url + (call.pathFor?.(target) ?? call.path), {
        method: call.method ?? (body === undefined ? "GET" : "POST"),
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: ctl.signal,
      });
      const res = await fetcherFor(this.env, target)(req);
      return { kind: "response", res: await firstByte(res, ctl.signal) };
    } catch (e) {
      if (ctl.signal.aborted && !signal?.aborted)
        return { kind: "timeout", reason: `no answer within ${this.cfg.runner.timeoutMs} ms` };
      return { kind: "error", reason: (e as Error).message || String(e) };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** GET /health of every target, in parallel, with a short timeout. */
  async health(timeoutMs = 2000): Promise<TargetHealth[]> {
    return Promise.all(
      this.cfg.targets.map(async (t): Promise<TargetHealth> => {
        const started = Date.now();
        const ctl = new AbortController();
        const timer = setTimeout(() => ctl.abort(), timeoutMs);
        try {
          const path = t.kind === "runner" ? "/health" : "/v1/models";
          const headers: Record<string, string> = {};
          const token = tokenFor(this.env, t);
          if (token) headers.authorization = `Bearer ${token}`;
          const res = await fetcherFor(
            this.env,
            t,
          )(new Request(t.url + path, { headers, signal: ctl.signal }));
          const body = (await res.json().catch(() => null)) as HealthBody | null;
          const ok = res.ok && body !== null;
          if (ok) downUntil.delete(t.name);
          else markDown(t);
          const variants = t.kind === "runner" ? (body?.variants ?? []) : Object.keys(t.models ?? {});
          return {
            name: t.name,
            kind: t.kind,
            ok,
            status: res.status,
            latency_ms: Date.now() - started,
            variants,
            model: body?.model,
            limits: body?.limits,
          };
        } catch (e) {
          markDown(t);
          return {
            name: t.name,
            kind: t.kind,
            ok: false,
            error: (e as Error).message || "unreachable",
            latency_ms: Date.now() - started,
            variants: [],
          };
        } finally {
          clearTimeout(timer);
        }
      }),
    );
  }
}

type HealthBody = { status?: string; variants?: string[]; model?: unknown; limits?: unknown };
export type TargetHealth = {
  name: string;
  kind: Target["kind"];
  ok: boolean;
  status?: number;
  error?: string;
  latency_ms: number;
  variants: string[];
  model?: unknown;
  limits?: unknown; // a runner's "limits" (runner/served.ts reads them)
};

function markDown(t: Target) {
  downUntil.set(t.name, Date.now() + DOWN_FOR_MS);
}

export function retryAfterMs(h: string | null): number {
  if (!h) return 500;
  const s = Number(h);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const at = Date.parse(h);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : 500;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A stream, once its first bytes have come: a runner that dies before them fails over to the next target
 *  (the read throws, inside the attempt's timeout). After them, nothing is replayed (the client has the
 *  bytes): a break is the client's error event (openai/sse.ts). So: failover before the first byte only. */
async function firstByte(res: Response, signal: AbortSignal): Promise<Response> {
  if (!res.ok || !res.body || !res.headers.get("content-type")?.includes("text/event-stream")) return res;
  const reader = res.body.getReader();
  const aborted = new Promise<never>((_, reject) => {
    const stop = () => (reader.cancel().catch(() => undefined), reject(new Error("aborted")));
    if (signal.aborted) stop();
    else signal.addEventListener("abort", stop, { once: true });
  });
  aborted.catch(() => undefined); // only the race below reads it
  const first = await Promise.race([reader.read(), aborted]);
  if (first.done) throw new Error("the stream ended before its first byte");
  const rest = new ReadableStream<Uint8Array>({
    start: (ctl) => ctl.enqueue(first.value),
    async pull(ctl) {
      const next = await reader.read();
      if (next.done) ctl.close();
      else ctl.enqueue(next.value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return new Response(rest, { status: res.status, headers: res.headers });
}

// The runner names its own fields ("requests[0].max_tokens"); the client sent "max_tokens".
const dropRow = (f: string) => f.replace(/^requests\[\d+\]\./, "");

/** Turns a runner's 4xx into the client's error, keeping its message; with `field`, the runner's field names
 *  (in the param and the message) become the client's. */
export async function runnerError(
  res: Response,
  target: Target,
  field?: (runnerField: string) => string,
): Promise<ApiError> {
  const text = await res.text();
  let e: { type?: string; message?: string; param?: string } = {};
  try {
    const j = JSON.parse(text);
    e = j.error ?? {};
  } catch {
    e = { message: text.slice(0, 500) };
  }
  const status = (res.status >= 400 && res.status < 600 ? res.status : 502) as ContentfulStatusCode;
  const message = e.message ?? `runner ${target.name} answered HTTP ${res.status}`;
  return new ApiError(status, field ? message.replace(/\b(requests|echo)\[\d+\](\.\w+)?/g, field) : message, {
    type: e.type,
    param: e.param ? (field ?? dropRow)(e.param) : null,
  });
}
