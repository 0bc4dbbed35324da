// Caps bound the whole request, for API keys as for the demo tier (issue 11, item 4), mocked runner: rows,
// max_tokens per row and in all, prompts. The gateway checks them first, with the numbers the runners'
// /health reports under "limits", so a client never hears a runner's error about a field it did not send
// ("requests[3]"): and the runner never receives the request.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { forgetServed } from "../src/runner/served";
import { call, newKey, runnerCalls, targets } from "./helpers";

const small = targets({ name: "small", url: "http://small.runner" }); // --max-tokens 8, 20 prompt tokens
const generated = async (host: string) => (await runnerCalls())[host]?.["/v1/generate"] ?? 0;

async function keyed() {
  return { authorization: `Bearer ${await newKey("caps")}` };
}

describe("an API key's caps bound the whole request", () => {
  // The runners' limits are cached per isolate: each test reads those of the runners it configures.
  beforeEach(forgetServed);
  afterEach(forgetServed);

  it("answers 413 naming `prompt` for more prompts than the runners take in one call, before any runner", async () => {
    const headers = await keyed();
    const before = await generated("ok.runner");
    for (const n of [33, 64]) {
      const res = await call("/v1/completions", {
        body: { model: "house:base", prompt: Array(n).fill("hi"), max_tokens: 1 },
        headers,
      });
      const { error } = (await res.json()) as any;
      expect([res.status, error.param, error.code]).toEqual([413, "prompt", "too_many_prompts"]);
      expect(error.message).toContain(`${n} prompts`);
      expect(error.message).not.toMatch(/requests\[/);
    }
    expect(await generated("ok.runner")).toBe(before);
    const ok = await call("/v1/completions", {
      body: { model: "house:base", prompt: Array(32).fill("hi"), max_tokens: 1 },
      headers,
    });
    expect(ok.status).toBe(200);
  });

  it("caps max_tokens times the prompts at KEY_MAX_REQUEST_TOKENS", async () => {
    const headers = await keyed();
    const env = { KEY_MAX_REQUEST_TOKENS: "100" };
    const body = (n: number, m: number) => ({
      model: "house:base",
      prompt: Array(n).fill("hi"),
      max_tokens: m,
    });
    expect((await call("/v1/completions", { body: body(4, 25), headers, env })).status).toBe(200);
    const res = await call("/v1/completions", { body: body(4, 26), headers, env });
    const { error } = (await res.json()) as any;
    expect([res.status, error.param, error.code]).toEqual([413, "max_tokens", "request_tokens_cap"]);
    expect(error.message).toContain("26 × 4 prompts = 104 tokens");
    expect(error.message).toContain("KEY_MAX_REQUEST_TOKENS");
  });

  it("caps the prompts' characters together at KEY_MAX_PROMPT_CHARS", async () => {
    const headers = await keyed();
    const env = { KEY_MAX_PROMPT_CHARS: "100" };
    const body = (len: number) => ({
      model: "house:base",
      prompt: ["x".repeat(len), "y".repeat(50)],
      max_tokens: 1,
    });
    expect((await call("/v1/completions", { body: body(50), headers, env })).status).toBe(200);
    const res = await call("/v1/completions", { body: body(51), headers, env });
    const { error } = (await res.json()) as any;
    expect([res.status, error.param, error.code]).toEqual([413, "prompt", "prompt_length_cap"]);
  });

  it("checks max_tokens against the runners' own --max-tokens from /health, before calling them", async () => {
    const headers = await keyed();
    const before = await generated("small.runner");
    for (const [path, body] of [
      [
        "/v1/chat/completions",
        { model: "house:base", messages: [{ role: "user", content: "hi" }], max_tokens: 9 },
      ],
      ["/v1/completions", { model: "house:base", prompt: "hi", max_tokens: 9 }],
      ["/v1/compare", { prompt: "hi", variants: ["base"], max_tokens: 9 }],
    ] as const) {
      const res = await call(path, { body, headers, env: small });
      const { error } = (await res.json()) as any;
      expect({ path, status: res.status, param: error.param }).toEqual({
        path,
        status: 422,
        param: "max_tokens",
      });
      expect(error.message).toContain("8");
    }
    expect(await generated("small.runner")).toBe(before);
  });

  it("checks token-id prompts against the runners' prompt limit, naming the prompt", async () => {
    const headers = await keyed();
    const res = await call("/v1/completions", {
      body: { model: "house:base", prompt: [[5, 6], Array(21).fill(7)], max_tokens: 1 },
      headers,
      env: small,
    });
    const { error } = (await res.json()) as any;
    expect([res.status, error.param]).toEqual([413, "prompt[1]"]);
    expect(error.message).toContain("21 tokens");
  });

  it("names the client's field when a runner refuses a text prompt as too long (it counts the tokens)", async () => {
    const headers = await keyed();
    const cases = [
      [
        "/v1/completions",
        { model: "house:base", prompt: ["hi", "x".repeat(30)], max_tokens: 1 },
        "prompt[1]",
      ],
      ["/v1/completions", { model: "house:base", prompt: "x".repeat(30), max_tokens: 1 }, "prompt"],
      [
        "/v1/chat/completions",
        { model: "house:base", messages: [{ role: "user", content: "x".repeat(30) }], max_tokens: 1 },
        "messages",
      ],
      ["/v1/compare", { prompt: "x".repeat(30), variants: ["base", "macdrop"], max_tokens: 1 }, "prompt"],
    ] as const;
    for (const [path, body, param] of cases) {
      const res = await call(path, { body, headers, env: small });
      const { error } = (await res.json()) as any;
      expect({ path, status: res.status, param: error.param }).toEqual({ path, status: 413, param });
      expect(error.message).not.toMatch(/requests/);
    }
  });
});

describe("the demo tier's /v1/compare cap bounds variants × max_tokens", () => {
  const demo = (ip: string) => ({ "cf-connecting-ip": ip });

  it("answers 403 when variants × max_tokens passes DEMO_COMPARE_MAX_TOKENS", async () => {
    const variants = ["base", "massive-zero", "massive-retain", "macdrop"];
    const env = { DEMO_COMPARE_MAX_TOKENS: "100" };
    const ok = await call("/v1/compare", {
      body: { prompt: "hi", variants, max_tokens: 25 },
      headers: demo("10.9.0.1"),
      env,
    });
    expect(ok.status).toBe(200);
    const res = await call("/v1/compare", {
      body: { prompt: "hi", variants, max_tokens: 26 },
      headers: demo("10.9.0.2"),
      env,
    });
    const { error } = (await res.json()) as any;
    expect([res.status, error.code]).toEqual([403, "demo_max_tokens"]);
    expect(error.message).toContain("26 × 4 variants = 104 tokens");
  });

  it("picks a default max_tokens that fits the cap for every variant the demo may use", async () => {
    const env = { DEMO_COMPARE_MAX_TOKENS: "40" };
    const res = await call("/v1/compare", { body: { prompt: "hi" }, headers: demo("10.9.0.3"), env });
    expect(res.status).toBe(200);
    const j = (await res.json()) as any;
    const total = j.results.reduce((s: number, r: any) => s + r.usage.completion_tokens, 0);
    expect(total).toBeLessThanOrEqual(40);
  });
});
