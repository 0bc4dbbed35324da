// The public demo tier's caps and the per-client rate limit (the Workers rate-limit binding), mocked runner.
import { describe, expect, it } from "vitest";
import { call, newKey } from "./helpers";

const msg = (content: string) => [{ role: "user", content }];

describe("demo tier caps", () => {
  it("answers 403 naming the max_tokens cap", async () => {
    const res = await call("/v1/chat/completions", {
      body: { model: "house:base", messages: msg("hi"), max_tokens: 500 },
    });
    expect(res.status).toBe(403);
    const j = (await res.json()) as any;
    expect(j.error).toMatchObject({ code: "demo_max_tokens", param: "max_tokens" });
    expect(j.error.message).toContain("demo cap of 64");
  });

  it("answers 413 naming the prompt-length cap", async () => {
    const res = await call("/v1/chat/completions", {
      body: { model: "house:base", messages: msg("x".repeat(1001)) },
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as any).error.message).toContain("demo cap of 1000");
  });

  it("answers 403 naming the allowed variants", async () => {
    const res = await call("/v1/chat/completions", {
      body: { model: "house:random-zero", messages: msg("hi") },
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as any).error.message).toContain(
      "allowed: base, massive-zero, massive-retain",
    );
  });

  it("lifts the demo caps for an API key", async () => {
    const key = await newKey();
    const res = await call("/v1/chat/completions", {
      headers: { authorization: `Bearer ${key}` },
      body: { model: "house:random-zero", messages: msg("x".repeat(1500)), max_tokens: 500 },
    });
    expect(res.status).toBe(200);
  });
});

describe("rate limit", () => {
  it("answers 429 with retry-after once a demo client passes 30 requests a minute", async () => {
    const headers = { "cf-connecting-ip": "203.0.113.77" };
    const statuses: number[] = [];
    for (let i = 0; i < 35; i++) statuses.push((await call("/v1/models", { headers })).status);
    expect(statuses.slice(0, 30).every((s) => s === 200)).toBe(true);
    expect(statuses.at(-1)).toBe(429);
    const res = await call("/v1/models", { headers });
    expect(res.headers.get("retry-after")).toBe("60");
    expect(((await res.json()) as any).error).toMatchObject({
      type: "rate_limit_error",
      code: "demo_rate_limit",
    });
  });

  it("counts clients separately", async () => {
    for (let i = 0; i < 31; i++)
      await call("/v1/models", { headers: { "cf-connecting-ip": "203.0.113.88" } });
    expect((await call("/v1/models", { headers: { "cf-connecting-ip": "203.0.113.89" } })).status).toBe(200);
  });
});

describe("demo caps bound the whole request, not each prompt", () => {
  const demo = (ip: string) => ({ "cf-connecting-ip": ip });

  it("caps max_tokens times the prompts at the demo cap (64), for any number of prompts", async () => {
    for (const n of [1, 2, 5, 32]) {
      const per = Math.floor(64 / n);
      const ok = await call("/v1/completions", {
        body: { model: "house:base", prompt: Array(n).fill("hi"), max_tokens: per },
        headers: demo(`10.4.0.${n}`),
      });
      expect(ok.status, `${n} prompts x ${per}`).toBe(200);
      const over = await call("/v1/completions", {
        body: { model: "house:base", prompt: Array(n).fill("hi"), max_tokens: per + 1 },
        headers: demo(`10.4.1.${n}`),
      });
      const j = (await over.json()) as any;
      expect([over.status, j.error.code], `${n} prompts x ${per + 1}`).toEqual([403, "demo_max_tokens"]);
    }
  });

  it("caps the prompts' characters together at the demo cap (1000)", async () => {
    for (const n of [2, 4, 32]) {
      const per = Math.floor(1000 / n);
      const body = (len: number) => ({
        model: "house:base",
        prompt: Array(n).fill("x".repeat(len)),
        max_tokens: 1,
      });
      expect((await call("/v1/completions", { body: body(per), headers: demo(`10.5.0.${n}`) })).status).toBe(
        200,
      );
      const over = await call("/v1/completions", { body: body(per + 1), headers: demo(`10.5.1.${n}`) });
      expect(over.status, `${n} prompts of ${per + 1}`).toBe(413);
    }
  });
});
