// The per-caller bound on rows in flight (issue 11, item 5), in workerd with the fake runner: a key's stream
// holds its rows until its last byte, and while it does, more rows from the same key answer 429 with
// Retry-After and reach no runner; another key is not affected; the rows come back when the answer ends.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import app from "../src/index";
import { call, newKey, runnerCalls, targets } from "./helpers";

// The stalling fake sends one event and goes quiet; the gateway cuts it off after RUNNER_TIMEOUT_MS.
const stalling = { ...targets({ name: "stall", url: "http://stall.runner" }), RUNNER_TIMEOUT_MS: "1500" };
const score = { rolling: [{ text: "hi" }] };

/** Starts a streamed completion and returns its response unread: its rows stay held until it is read. */
async function openStream(key: string, prompts: number, extra: Record<string, unknown>) {
  const ctx = createExecutionContext();
  const req = new Request("http://gateway.test/v1/completions", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({
      model: "house:base",
      prompt: Array(prompts).fill("hi"),
      max_tokens: 2,
      stream: true,
    }),
  });
  const res = await app.fetch(req, { ...env, ...extra }, ctx);
  return { res, finish: async () => (await res.text(), await waitOnExecutionContext(ctx)) };
}

describe("rows in flight per key", () => {
  it("answers 429 with Retry-After while the key's stream holds its cap, then admits it again", async () => {
    const key = await newKey("busy");
    const auth = { authorization: `Bearer ${key}` };
    const cfg = { ...stalling, KEY_MAX_INFLIGHT_ROWS: "3" };
    const open = await openStream(key, 3, cfg);
    expect(open.res.status).toBe(200);

    const scoredBefore = (await runnerCalls())["ok.runner"]?.["/v1/score"] ?? 0;
    const refused = await call("/v1/score", {
      body: score,
      headers: auth,
      env: { KEY_MAX_INFLIGHT_ROWS: "3" },
    });
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("1");
    const { error } = (await refused.json()) as any;
    expect([error.type, error.code]).toEqual(["rate_limit_error", "inflight_rows"]);
    expect(error.message).toContain("3 rows in flight");
    expect((await runnerCalls())["ok.runner"]?.["/v1/score"] ?? 0).toBe(scoredBefore);

    // Another key is not affected.
    const other = { authorization: `Bearer ${await newKey("other")}` };
    expect(
      (await call("/v1/score", { body: score, headers: other, env: { KEY_MAX_INFLIGHT_ROWS: "3" } })).status,
    ).toBe(200);

    await open.finish(); // the stall is cut off: the answer has ended, its rows are released
    expect(
      (await call("/v1/score", { body: score, headers: auth, env: { KEY_MAX_INFLIGHT_ROWS: "3" } })).status,
    ).toBe(200);
  });

  it("releases the rows of answers that failed or were refused", async () => {
    const key = await newKey("failing");
    const headers = { authorization: `Bearer ${key}` };
    const cfg = { KEY_MAX_INFLIGHT_ROWS: "2" };
    const down = { ...cfg, ...targets({ name: "d", url: "http://down.runner" }) };
    for (let i = 0; i < 4; i++)
      expect((await call("/v1/score", { body: score, headers, env: down })).status).toBe(503);
    for (let i = 0; i < 4; i++)
      expect(
        (await call("/v1/score", { body: { rolling: [{ text: "hi", variant: "nope" }] }, headers, env: cfg }))
          .status,
      ).toBe(404);
    expect(
      (
        await call("/v1/score", {
          body: { rolling: [score.rolling[0], score.rolling[0]] },
          headers,
          env: cfg,
        })
      ).status,
    ).toBe(200);
  });

  it("answers 413 for a request over the cap on its own (waiting would not help)", async () => {
    const headers = { authorization: `Bearer ${await newKey("big")}` };
    const res = await call("/v1/completions", {
      body: { model: "house:base", prompt: ["a", "b", "c"], max_tokens: 1 },
      headers,
      env: { KEY_MAX_INFLIGHT_ROWS: "2" },
    });
    const { error } = (await res.json()) as any;
    expect([res.status, error.code]).toEqual([413, "inflight_rows_cap"]);
  });

  it("bounds a demo client by DEMO_MAX_INFLIGHT_ROWS, apart from other clients", async () => {
    const body = { model: "house:base", prompt: ["a", "b", "c"], max_tokens: 1 };
    const res = await call("/v1/completions", {
      body,
      headers: { "cf-connecting-ip": "10.77.0.1" },
      env: { DEMO_MAX_INFLIGHT_ROWS: "2" },
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as any).error.message).toContain("DEMO_MAX_INFLIGHT_ROWS");
  });
});
