// A broken stream never looks like a finished one (mocked runner), for every streaming route and every way a
// runner's stream can break: it dies (its body ends without [DONE]), its connection resets, one of its rows
// fails (the runner's own error event), or it goes quiet past the timeout. The client gets an error event
// the OpenAI SDK raises on, and the request has exactly one record row with the real outcome.
import { env } from "cloudflare:workers";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { call, newKey, sse, targets } from "../helpers";

const ROUTES: Record<string, Record<string, unknown>> = {
  "/v1/chat/completions": { model: "house:base", messages: [{ role: "user", content: "hi" }] },
  "/v1/completions": { model: "house:base", prompt: "hi" },
};
const BREAKS: Record<string, { status: number; type: string }> = {
  dies: { status: 502, type: "runner_error" },
  reset: { status: 502, type: "runner_error" },
  rowfail: { status: 500, type: "server_error" },
  stall: { status: 504, type: "runner_timeout" },
};

const rows = (id: string | null) => env.DB.prepare("SELECT * FROM requests WHERE id = ?").bind(id).all<any>();

describe("broken streams (mocked runner)", () => {
  for (const [path, body] of Object.entries(ROUTES))
    for (const [host, want] of Object.entries(BREAKS))
      it(`${path}: a runner that ${host} gives an error event and one row with ${want.status}`, async () => {
        const headers = { authorization: `Bearer ${await newKey("streams")}` };
        const res = await call(path, {
          body: { ...body, stream: true, max_tokens: 5 },
          headers,
          env: targets({ name: host, url: `http://${host}.s.runner` }),
        });
        const text = await res.text();
        const events = sse(text);
        const errors = events.filter((e) => e.error);
        expect(errors, text).toHaveLength(1);
        expect(errors[0].error).toMatchObject({ type: want.type, message: expect.any(String) });
        // Nothing says the answer finished: no finish_reason anywhere.
        expect(events.flatMap((e) => e.choices ?? []).some((ch: any) => ch.finish_reason)).toBe(false);
        const { results } = await rows(res.headers.get("x-request-id"));
        expect(results).toHaveLength(1);
        expect(results[0]).toMatchObject({ status: want.status, error_type: want.type, stream: 1 });
      });

  it("the OpenAI SDK raises on a stream whose runner died", async () => {
    const client = new OpenAI({
      apiKey: await newKey("sdk"),
      baseURL: "http://gateway.test/v1",
      fetch: async (url, init) => {
        const b = JSON.parse(String(init?.body));
        return call(new URL(String(url)).pathname.replace(/^/, ""), {
          body: b,
          headers: { authorization: (init?.headers as any)?.authorization ?? "" },
          env: targets({ name: "dies", url: "http://dies.sdk.runner" }),
        });
      },
    });
    const stream = await client.chat.completions.create({
      model: "house:base",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
    });
    const read = async () => {
      for await (const _ of stream);
    };
    await expect(read()).rejects.toThrow(/broke off/);
  });
});

describe("request records keep the client's x-request-id apart (mocked runner)", () => {
  it("gives every request its own row when clients reuse an x-request-id", async () => {
    const send = () =>
      call("/v1/chat/completions", {
        body: { model: "house:base", messages: [{ role: "user", content: "x" }] },
        headers: { "x-request-id": "reused-id" },
      });
    const answers = await Promise.all([send(), send(), send(), send()]);
    const ids = answers.map((r) => r.headers.get("x-request-id"));
    expect(new Set(ids).size).toBe(4);
    expect(ids).not.toContain("reused-id");
    const { results } = await env.DB.prepare("SELECT * FROM requests WHERE client_request_id = ?")
      .bind("reused-id")
      .all<any>();
    expect(results.map((r: any) => r.id).sort()).toEqual([...ids].sort());
  });
});
