// OpenAI parameters and routes the gateway does not implement are refused by name, never silently dropped
// (mocked runner): a client must not believe it got JSON mode or tool calls. An OpenAI-compatible engine
// target that serves the variant gets them as sent.
import { describe, expect, it } from "vitest";
import { call, newKey, runnerCalls, targets } from "../helpers";

// What OpenAI clients send for each parameter, and its neutral value (accepted, as it changes nothing).
const PARAMS: Record<string, { set: unknown; neutral?: unknown }> = {
  tools: { set: [{ type: "function", function: { name: "f", parameters: {} } }], neutral: [] },
  tool_choice: { set: "auto", neutral: "none" },
  functions: { set: [{ name: "f", parameters: {} }], neutral: [] },
  function_call: { set: "auto", neutral: "none" },
  response_format: { set: { type: "json_object" }, neutral: { type: "text" } },
  logit_bias: { set: { "50256": -100 }, neutral: {} },
  presence_penalty: { set: 0.5, neutral: 0 },
  frequency_penalty: { set: 0.5, neutral: 0 },
  audio: { set: { voice: "alloy", format: "wav" } },
  modalities: { set: ["text", "audio"], neutral: ["text"] },
  prediction: { set: { type: "content", content: "x" } },
  reasoning_effort: { set: "high" },
  web_search_options: { set: {} },
};
const ROUTES: Record<string, Record<string, unknown>> = {
  "/v1/chat/completions": { model: "house:base", messages: [{ role: "user", content: "hi" }], max_tokens: 2 },
  "/v1/completions": { model: "house:base", prompt: "hi", max_tokens: 2 },
};
const generated = async () => (await runnerCalls())["ok.runner"]?.["/v1/generate"] ?? 0;

describe("unimplemented OpenAI parameters (mocked runner)", () => {
  for (const [path, body] of Object.entries(ROUTES)) {
    it(`${path} answers 400 naming every unimplemented parameter, and calls no runner`, async () => {
      const headers = { authorization: `Bearer ${await newKey("params")}` };
      const before = await generated();
      for (const [name, { set }] of Object.entries(PARAMS)) {
        const res = await call(path, { body: { ...body, [name]: set }, headers });
        const j = (await res.json()) as any;
        expect([res.status, j.error.param, j.error.code], name).toEqual([400, name, "unsupported_parameter"]);
        expect(j.error.message).toContain(`"${name}"`);
      }
      expect(await generated()).toBe(before);
    });

    it(`${path} accepts each parameter at its neutral value`, async () => {
      const headers = { authorization: `Bearer ${await newKey("params")}` };
      for (const [name, { neutral }] of Object.entries(PARAMS))
        if (neutral !== undefined) {
          const res = await call(path, { body: { ...body, [name]: neutral }, headers });
          expect(res.status, name).toBe(200);
        }
    });
  }

  it("lets an OpenAI-compatible engine that serves the variant take them", async () => {
    const env = targets({
      name: "vllm",
      url: "http://ok.vllm.runner",
      kind: "openai",
      models: { base: "b" },
    });
    const res = await call("/v1/chat/completions", {
      body: { ...ROUTES["/v1/chat/completions"], response_format: { type: "json_object" } },
      headers: { authorization: `Bearer ${await newKey("params")}` },
      env,
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).choices[0].message.content).toBe("engine b");
  });
});

describe("unimplemented OpenAI routes", () => {
  it("answers /v1/responses with a 404 that says what to use instead", async () => {
    for (const method of ["POST", "GET"]) {
      const res = await call("/v1/responses", {
        method,
        body: method === "POST" ? { input: "hi" } : undefined,
      });
      expect(res.status).toBe(404);
      expect(((await res.json()) as any).error.message).toContain("POST /v1/chat/completions");
    }
  });
});
