// Legacy completions against the FAKE runner: text and token-id prompts, batches, echo + logprobs in the
// legacy format lm-evaluation-harness reads, and streaming.
import { describe, expect, it } from "vitest";
import { call, newKey, sse } from "../helpers";

describe("POST /v1/completions (mocked runner)", () => {
  it("completes a text prompt", async () => {
    const j = (await (
      await call("/v1/completions", { body: { model: "house:base", prompt: "abc", max_tokens: 30 } })
    ).json()) as any;
    expect(j).toMatchObject({ object: "text_completion", model: "house:base" });
    expect(j.choices[0]).toMatchObject({
      index: 0,
      text: "base says abc",
      finish_reason: "stop",
      logprobs: null,
    });
  });

  it("completes a batch of token-id prompts, one choice each", async () => {
    const ids = (s: string) => [...s].map((ch) => ch.charCodeAt(0) + 3);
    const j = (await (
      await call("/v1/completions", {
        body: { model: "house:base", prompt: [ids("xy"), ids("z")], max_tokens: 30 },
      })
    ).json()) as any;
    expect(j.choices.map((c: any) => c.text)).toEqual(["base says xy", "base says z"]);
  });

  it("echoes the prompt with legacy logprobs: prompt tokens first, then the generated ones", async () => {
    const key = await newKey();
    const prompt = [10, 11, 12, 13];
    const res = await call("/v1/completions", {
      headers: { authorization: `Bearer ${key}` },
      body: { model: "house:base", prompt: [prompt], max_tokens: 1, logprobs: 1, echo: true, temperature: 0 },
    });
    const lp = ((await res.json()) as any).choices[0].logprobs;
    expect(Object.keys(lp).sort()).toEqual(["text_offset", "token_logprobs", "tokens", "top_logprobs"]);
    expect(lp.tokens).toHaveLength(prompt.length + 1);
    expect(lp.token_logprobs[0]).toBeNull();
    expect(lp.token_logprobs.slice(1, 4)).toEqual([-1.1, -1.2, -1.3]);
    expect(lp.top_logprobs[1]).toEqual({ [String.fromCharCode(8)]: -1.1 });
    expect(lp.text_offset).toEqual([0, 1, 2, 3, 4]);
  });

  it("echoes with max_tokens 0 without generating", async () => {
    const j = (await (
      await call("/v1/completions", {
        body: { model: "house:base", prompt: "hey", max_tokens: 0, logprobs: 0, echo: true },
      })
    ).json()) as any;
    expect(j.choices[0].text).toBe("hey");
    // OpenAI's shape: the prompt's own tokens; the runner's BOS conditions them but is not one of them.
    expect(j.choices[0].logprobs.tokens).toEqual(["h", "e", "y"]);
  });

  it("streams text chunks per prompt index", async () => {
    const res = await call("/v1/completions", {
      body: { model: "house:massive-zero", prompt: "stream", stream: true, max_tokens: 40 },
    });
    const chunks = sse(await res.text());
    expect(chunks.map((c) => c.choices[0]?.text ?? "").join("")).toBe("massive-zero says stream");
    expect(chunks.at(-1).choices[0].finish_reason).toBe("stop");
  });

  it("rejects max_tokens 0 without echo and echo with stream", async () => {
    expect(
      (await call("/v1/completions", { body: { model: "house:base", prompt: "a", max_tokens: 0 } })).status,
    ).toBe(422);
    const res = await call("/v1/completions", {
      body: { model: "house:base", prompt: "a", echo: true, stream: true },
    });
    expect(((await res.json()) as any).error.param).toBe("echo");
  });
});

describe("echo for text prompts (mocked runner)", () => {
  it("shows the prompt's own tokens with offsets in order into prompt + completion, for any prompt", async () => {
    const key = await newKey();
    for (const prompt of ["abc", "The cat sat.", "a<s>b", " x "]) {
      const res = await call("/v1/completions", {
        headers: { authorization: `Bearer ${key}` },
        body: { model: "house:base", prompt, max_tokens: 3, logprobs: 0, echo: true, temperature: 0 },
      });
      const choice = ((await res.json()) as any).choices[0];
      const lp = choice.logprobs;
      expect(lp.tokens.join("")).toBe(choice.text);
      expect(lp.text_offset[0]).toBe(0);
      expect(lp.text_offset).toEqual([...lp.text_offset].sort((a: number, b: number) => a - b));
      lp.tokens.forEach((t: string, i: number) =>
        expect(choice.text.slice(lp.text_offset[i]).startsWith(t)).toBe(true),
      );
    }
  });
});
