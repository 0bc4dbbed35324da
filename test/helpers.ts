// Calls the gateway in workerd as a client would, with per-test configuration, and waits for its
// waitUntil work (the request records) so a test can read D1 right after.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import app from "../src/index";

export const ADMIN = { authorization: "Bearer test-admin-token" };

export type Call = {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  env?: Record<string, unknown>;
};

/** One request; `env` overrides variables (a fresh object, so the gateway re-reads its configuration). */
export async function call(
  path: string,
  { method, body, headers = {}, env: extra = {} }: Call = {},
): Promise<Response> {
  const ctx = createExecutionContext();
  const init: RequestInit = {
    method: method ?? (body === undefined ? "GET" : "POST"),
    headers: { ...headers },
  };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)["content-type"] = "application/json";
  }
  const res = await app.fetch(new Request("http://gateway.test" + path, init), { ...env, ...extra }, ctx);
  // Read the body before waiting: a stream's record is written only once it has been consumed.
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  return new Response(text, { status: res.status, headers: res.headers });
}

export const targets = (...ts: object[]) => ({ RUNNER_TARGETS: JSON.stringify(ts) });

/** Calls the fake runner received, per host and path. */
export async function runnerCalls(): Promise<Record<string, Record<string, number>>> {
  return (await (env as unknown as { RUNNER: Fetcher }).RUNNER.fetch("http://any/__calls")).json();
}

export async function newKey(name = "test"): Promise<string> {
  const res = await call("/admin/keys", { body: { name }, headers: ADMIN });
  return ((await res.json()) as { key: string }).key;
}

export const sse = (text: string) =>
  text
    .split("\n\n")
    .filter((b) => b.startsWith("data: "))
    .map((b) => b.slice(6))
    .filter((d) => d !== "[DONE]")
    .map((d) => JSON.parse(d));
