// End to end: the official `openai` npm SDK, unchanged, against the gateway in workerd in front of a real
// runner on the tiny model: chat, streaming, completions with logprobs (echo), compare, and the errors.
import OpenAI from "openai";
import { describe, expect, inject, it } from "vitest";

const gateway = inject("gateway");
const client = new OpenAI({ baseURL: `${gateway}/v1`, apiKey: inject("apiKey"), maxRetries: 0 });

describe("openai SDK through the gateway to a real runner", () => {
  it("lists the model and its variants", async () => {
    const ids = (await client.models.list()).data.map((m) => m.id);
    expect(ids).toEqual(
      expect.arrayContaining(["house", "house:base", "house:massive-zero", "house:massive-retain"]),
    );
  });

  it("answers a chat completion on a fixed variant", async () => {
    const r = await client.chat.completions.create({
      model: "house:base",
      messages: [{ role: "user", content: "Hello" }],
      max_tokens: 8,
      temperature: 0,
    });
    expect(r.model).toBe("house:base");
    expect(r.choices[0].message.role).toBe("assistant");
    expect(r.usage!.completion_tokens).toBeGreaterThan(0);
    expect(r.usage!.completion_tokens).toBeLessThanOrEqual(8);
  });

  it("names the experiment's variant in the header and the body for a bare model", async () => {
    const { data, response } = await client.chat.completions
      .create({
        model: "house",
        messages: [{ role: "user", content: "Hi" }],
        max_tokens: 4,
        user: "e2e-user",
      })
      .withResponse();
    expect(data.model).toBe(`house:${response.headers.get("x-house-variant")}`);
    expect(response.headers.get("x-house-experiment")).toBe("house-ab");
  });

  it("streams a chat completion, the same text as without streaming (greedy)", async () => {
    const body = {
      model: "house:massive-zero",
      messages: [{ role: "user" as const, content: "Once upon a time" }],
      max_tokens: 12,
      temperature: 0,
    };
    const whole = await client.chat.completions.create(body);
    const stream = await client.chat.completions.create({
      ...body,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let chunks = 0;
    let usage;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta?.content ?? "";
      usage = chunk.usage ?? usage;
    }
    expect(chunks).toBeGreaterThan(2);
    expect(text).toBe(whole.choices[0].message.content);
    expect(usage!.completion_tokens).toBe(whole.usage!.completion_tokens);
  });

  it("completes with logprobs, and echoes the prompt's token logprobs in the legacy format", async () => {
    const r = await client.completions.create({
      model: "house:base",
      prompt: "The cat",
      max_tokens: 4,
      temperature: 0,
      logprobs: 2,
    });
    expect(r.choices[0].logprobs!.tokens!.length).toBe(r.usage!.completion_tokens);
    const e = await client.completions.create({
      model: "house:base",
      prompt: "The cat sat",
      max_tokens: 1,
      temperature: 0,
      logprobs: 1,
      echo: true,
    });
    const lp = e.choices[0].logprobs!;
    expect(lp.token_logprobs![0]).toBeNull();
    expect(lp.token_logprobs!.slice(1).every((x) => typeof x === "number" && x <= 0)).toBe(true);
    expect(lp.tokens!.length).toBe(lp.text_offset!.length);
    expect(e.choices[0].text.startsWith("The cat sat")).toBe(true);
  });

  it("scores token-id prompts the way lm-evaluation-harness does (echo, max_tokens 1, [ctxlen:-1])", async () => {
    const tok = (await (
      await fetch(`${gateway}/v1/tokenize`, {
        method: "POST",
        body: JSON.stringify({ prompt: "The cat sat", add_special_tokens: false }),
      })
    ).json()) as { tokens: number[] };
    const ctxlen = 4;
    const r = await client.completions.create({
      model: "house:base",
      prompt: [tok.tokens],
      max_tokens: 1,
      temperature: 0,
      logprobs: 1,
      echo: true,
    });
    const lp = r.choices[0].logprobs!;
    expect(lp.token_logprobs!.length).toBe(tok.tokens.length + 1);
    const cont = lp.token_logprobs!.slice(ctxlen, -1) as number[];
    expect(cont).toHaveLength(tok.tokens.length - ctxlen);
    const top = lp.top_logprobs!.slice(ctxlen, -1) as Record<string, number>[];
    expect(top.every((t) => Object.keys(t).length >= 1)).toBe(true);
  });

  it("compares variants side by side in one call, with divergence", async () => {
    const res = await fetch(`${gateway}/v1/compare`, {
      method: "POST",
      headers: { authorization: `Bearer ${inject("apiKey")}`, "content-type": "application/json" },
      body: JSON.stringify({
        prompt: "Once upon a time",
        variants: ["base", "massive-zero", "massive-retain"],
        max_tokens: 8,
      }),
    });
    const j = (await res.json()) as any;
    expect(j.results.map((r: any) => r.variant)).toEqual(["base", "massive-zero", "massive-retain"]);
    for (const r of j.results) {
      expect(r.tokens.length).toBeGreaterThan(0);
      expect(r.latency_ms).toBeGreaterThan(0);
    }
    expect(j.divergence.map((d: any) => d.variant)).toEqual(["massive-zero", "massive-retain"]);
    expect(j.divergence[0].token_overlap).toBeGreaterThanOrEqual(0);
  });

  it("surfaces an unknown variant as a 404 the SDK raises", async () => {
    await expect(
      client.chat.completions.create({ model: "house:nope", messages: [{ role: "user", content: "x" }] }),
    ).rejects.toMatchObject({ status: 404 });
  });
});
