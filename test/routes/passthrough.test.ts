// Models, health, the runner pass-through routes and the tokenizer routes (vLLM field names too, as
// lm-evaluation-harness's remote tokenizer sends them), against the FAKE runner; and the demo page.
import { describe, expect, it } from "vitest";
import { call, newKey } from "../helpers";

describe("pass-through routes (mocked runner)", () => {
  it("lists the model and one entry per variant", async () => {
    const j = (await (await call("/v1/models")).json()) as any;
    expect(j.object).toBe("list");
    expect(j.data.map((m: any) => m.id)).toEqual(
      expect.arrayContaining(["house", "house:base", "house:massive-zero"]),
    );
  });

  it("reports the runner targets' health", async () => {
    const j = (await (await call("/health")).json()) as any;
    expect(j.status).toBe("ok");
    expect(j.targets[0]).toMatchObject({ name: "ok", ok: true });
  });

  it("passes /v1/score through with a key, checking variants first", async () => {
    const auth = { authorization: `Bearer ${await newKey()}` };
    const ok = (await (
      await call("/v1/score", {
        body: { requests: [{ variant: "base", context: "a", continuation: "b" }] },
        headers: auth,
      })
    ).json()) as any;
    expect(ok.results[0]).toEqual({ logprob: -3.5, is_greedy: true, tokens: 2 });
    const bad = await call("/v1/score", {
      body: { requests: [{ variant: "zzz", context: "a", continuation: "b" }] },
      headers: auth,
    });
    expect(bad.status).toBe(404);
    const two = await call("/v1/score", {
      body: { requests: [{ context: "a", continuation: "b" }], rolling: [{ text: "a" }] },
      headers: auth,
    });
    expect(((await two.json()) as any).error.message).toContain("exactly one of");
  });

  it("passes /v1/massive through with a key and checks k", async () => {
    const auth = { authorization: `Bearer ${await newKey()}` };
    expect(((await (await call("/v1/massive?k=3", { headers: auth })).json()) as any).massive_layer).toBe(1);
    expect((await call("/v1/massive?k=99", { headers: auth })).status).toBe(422); // MAX_K is 64
    expect((await call("/v1/massive?k=x", { headers: auth })).status).toBe(400);
  });

  it("serves the massive profile to the demo page without a key", async () => {
    expect((await call("/demo/massive?prompt=hi")).status).toBe(200);
  });

  it("tokenizes with vLLM's field names and detokenizes to both prompt and text", async () => {
    const t = (await (
      await call("/v1/tokenize", { body: { prompt: "ab", add_special_tokens: false } })
    ).json()) as any;
    expect(t.tokens).toEqual([100, 101]);
    const d = (await (await call("/v1/detokenize", { body: { tokens: t.tokens } })).json()) as any;
    expect(d).toEqual({ text: "ab", prompt: "ab" });
    const info = (await (await call("/v1/tokenizer_info")).json()) as any;
    expect(info).toMatchObject({
      eos_token: "</s>",
      bos_token: "<s>",
      chat_template: null,
      has_chat_template: false,
    });
  });
});

describe("demo page", () => {
  it("serves plain HTML with the prompt box, one pane per demo variant and the chart", async () => {
    const res = await call("/");
    expect(res.headers.get("content-type")).toContain("text/html");
    const html = await res.text();
    expect(html).toContain('id="prompt"');
    // every DEMO_VARIANTS entry the fake runner serves, macdrop+massive-zero included (the e2e test's tiny
    // model has no adapters and gets three)
    expect(html.match(/class="answer"/g)).toHaveLength(5);
    expect(html).toContain('data-variant="macdrop+massive-zero"');
    expect(html).toContain('id="chart"');
  });
});

describe("lm-evaluation-harness remote tokenizer (mocked runner)", () => {
  it("finds the tokenizer routes at the root too, as vLLM serves them", async () => {
    const info = (await (await call("/tokenizer_info")).json()) as any;
    expect(info.eos_token).toBe("</s>");
    const t = (await (
      await call("/tokenize", { body: { prompt: "ab", add_special_tokens: false } })
    ).json()) as any;
    expect(t.tokens).toEqual([100, 101]);
    expect(((await (await call("/detokenize", { body: { tokens: [100] } })).json()) as any).prompt).toBe("a");
  });

  it('treats an empty "Bearer " header as no key (the demo tier), as sent without OPENAI_API_KEY', async () => {
    const res = await call("/v1/models", { headers: { authorization: "Bearer " } });
    expect(res.status).toBe(200);
  });
});
