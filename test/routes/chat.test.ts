// Chat completions through the gateway against the FAKE runner (test/fixtures/fake-runner.mjs).
import { describe, expect, it } from "vitest";
import { call, newKey, sse } from "../helpers";

describe("POST /v1/chat/completions (mocked runner)", () => {
  it("answers a fixed variant in the OpenAI shape and names it in model and header", async () => {
    const res = await call("/v1/chat/completions", {
      body: { model: "house:massive-zero", messages: [{ role: "user", content: "hi" }], max_tokens: 20 },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-house-variant")).toBe("massive-zero");
    const j = (await res.json()) as any;
    expect(j.object).toBe("chat.completion");
    expect(j.model).toBe("house:massive-zero");
    expect(j.choices[0].message).toEqual({
      role: "assistant",
      content: "massive-zero says hi",
      refusal: null,
    });
    expect(j.usage.total_tokens).toBe(j.usage.prompt_tokens + j.usage.completion_tokens);
  });

  it("streams chunks ending with [DONE] and a usage chunk when asked", async () => {
    const res = await call("/v1/chat/completions", {
      body: {
        model: "house:base",
        messages: [{ role: "user", content: "stream me" }],
        stream: true,
        stream_options: { include_usage: true },
      },
    });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const text = await res.text();
    expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
    const chunks = sse(text);
    expect(chunks[0].choices[0].delta.role).toBe("assistant");
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("")).toBe("base says stream me");
    expect(chunks.at(-1).usage.completion_tokens).toBe("base says stream me".length);
  });

  it("assigns a variant by experiment when the model has none, the same one for the same user", async () => {
    const body = { model: "house", messages: [{ role: "user", content: "x" }], user: "alice" };
    const a = await call("/v1/chat/completions", { body });
    const b = await call("/v1/chat/completions", { body });
    expect(a.headers.get("x-house-experiment")).toBe("house-ab");
    expect(a.headers.get("x-house-variant")).toBe(b.headers.get("x-house-variant"));
    expect(((await a.json()) as any).model).toBe(`house:${a.headers.get("x-house-variant")}`);
  });

  it("returns chat logprobs when asked", async () => {
    const key = await newKey();
    const res = await call("/v1/chat/completions", {
      headers: { authorization: `Bearer ${key}` },
      body: {
        model: "house:base",
        messages: [{ role: "user", content: "q" }],
        logprobs: true,
        top_logprobs: 1,
      },
    });
    const j = (await res.json()) as any;
    expect(j.choices[0].logprobs.content[0]).toMatchObject({ token: "b", logprob: -0.1 });
  });
});
