// The runner pool against a FAKE runner that fails on purpose: retries only on 429/503 honouring
// Retry-After, failover to the next target, timeouts as 504, everything down as 503 (never a hang).
import { describe, expect, it } from "vitest";
import { retryAfterMs } from "../../src/runner/pool";
import { call, newKey, runnerCalls, targets } from "../helpers";

const body = { model: "house:base", messages: [{ role: "user", content: "hi" }] };
const gen = async (host: string) => (await runnerCalls())[host]?.["/v1/generate"] ?? 0;

describe("runner pool (fake runner failing on purpose)", () => {
  it("retries a 503 with Retry-After and then succeeds on the same target", async () => {
    const res = await call("/v1/chat/completions", {
      body,
      env: targets({ name: "busy", url: "http://busy-2.a.runner" }),
    });
    expect(res.status).toBe(200);
    expect(await gen("busy-2.a.runner")).toBe(3);
  });

  it("fails over to the next target when retries run out", async () => {
    const env = {
      ...targets(
        { name: "busy-b", url: "http://busy-9.b.runner" },
        { name: "ok-b", url: "http://ok.b.runner" },
      ),
      RUNNER_RETRIES: "1",
    };
    const res = await call("/v1/chat/completions", { body, env });
    expect(res.status).toBe(200);
    expect(await gen("busy-9.b.runner")).toBe(2);
    expect(await gen("ok.b.runner")).toBe(1);
  });

  it("fails over from a target answering 502, without retrying it", async () => {
    const res = await call("/v1/chat/completions", {
      body,
      env: targets(
        { name: "down-c", url: "http://down.c.runner" },
        { name: "ok-c", url: "http://ok.c.runner" },
      ),
    });
    expect(res.status).toBe(200);
    expect(await gen("down.c.runner")).toBe(1);
  });

  it("passes a runner's 500 on without marking it down or failing over (the input, not the runner, failed)", async () => {
    const env = targets(
      { name: "buggy-f", url: "http://buggy.f.runner" },
      { name: "ok-f", url: "http://ok.f.runner" },
    );
    for (let i = 0; i < 3; i++) {
      const res = await call("/v1/chat/completions", { body, env });
      expect(res.status).toBe(500);
      expect(((await res.json()) as any).error.message).toContain("failed on this input");
    }
    expect(await gen("buggy.f.runner")).toBe(3); // never skipped as down
    expect(await gen("ok.f.runner")).toBe(0); // the input never handed on
  });

  it("tries a target that failed last, for a while", async () => {
    const env = targets(
      { name: "down-d", url: "http://down.d.runner" },
      { name: "ok-d", url: "http://ok.d.runner" },
    );
    await call("/v1/chat/completions", { body, env });
    await call("/v1/chat/completions", { body, env });
    expect(await gen("down.d.runner")).toBe(1);
    expect(await gen("ok.d.runner")).toBe(2);
  });

  it("answers 503 naming each target when all are down", async () => {
    const res = await call("/v1/chat/completions", {
      body,
      env: targets(
        { name: "down-e", url: "http://down.e.runner" },
        { name: "limited-e", url: "http://limited.e.runner" },
      ),
    });
    expect(res.status).toBe(503);
    const j = (await res.json()) as any;
    expect(j.error.type).toBe("unavailable_error"); // the runner's own 503 type
    expect(j.error.message).toContain("down-e: HTTP 502");
    expect(j.error.message).toContain("limited-e: HTTP 429");
    expect(res.headers.get("retry-after")).toBe("1");
  });

  it("answers 504 when the runner does not answer within the timeout", async () => {
    const started = Date.now();
    const res = await call("/v1/chat/completions", {
      body,
      env: targets({ name: "slow-f", url: "http://slow.f.runner" }),
    });
    expect(res.status).toBe(504);
    expect(((await res.json()) as any).error.message).toContain("timed out");
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it("passes a runner's 4xx through with its message and param, without failover", async () => {
    const key = await newKey();
    const env = targets(
      { name: "ok-g", url: "http://ok.g.runner" },
      { name: "ok-g2", url: "http://ok.g2.runner" },
    );
    // Only the runner counts a text prompt's tokens (the gateway checks max_tokens against its /health first).
    const long = [{ role: "user", content: "x".repeat(3000) }];
    const res = await call("/v1/chat/completions", {
      body: { ...body, messages: long },
      env,
      headers: { authorization: `Bearer ${key}` },
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as any).error).toMatchObject({
      type: "request_too_large",
      param: "messages", // the runner's "requests[0]", in the client's words
      message: "messages has 3001 prompt tokens; at most 2048",
    });
    expect(await gen("ok.g2.runner")).toBe(0);
  });

  it("cuts a stream off with an error event when the runner goes quiet mid-answer", async () => {
    const started = Date.now();
    const res = await call("/v1/chat/completions", {
      body: { ...body, stream: true },
      env: targets({ name: "stall-h", url: "http://stall.h.runner" }),
    });
    const text = await res.text();
    expect(text).toContain('"partial"');
    expect(text).toContain('"type":"runner_timeout"');
    expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("reads Retry-After in seconds or as a date", () => {
    expect(retryAfterMs("2")).toBe(2000);
    expect(retryAfterMs(null)).toBe(500);
    expect(retryAfterMs(new Date(Date.now() + 3000).toUTCString())).toBeGreaterThan(1000);
  });

  it("routes a variant to an OpenAI-compatible engine under its own model name", async () => {
    const env = targets({
      name: "vllm",
      url: "http://ok.vllm.runner",
      kind: "openai",
      models: { base: "house-base", "massive-zero": "house-mz-lora" },
    });
    const res = await call("/v1/chat/completions", { body: { ...body, model: "house:massive-zero" }, env });
    const j = (await res.json()) as any;
    expect(j.model).toBe("house:massive-zero");
    expect(j.choices[0].message.content).toBe("engine house-mz-lora");
  });
});
