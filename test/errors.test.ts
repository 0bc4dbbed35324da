// Bad requests answer 4xx in the OpenAI error shape with a message that says what to fix, and nothing that
// failed validation reaches the (mocked) runner.
import { describe, expect, it } from "vitest";
import { call, runnerCalls, targets } from "./helpers";

const shape = (j: any) => expect(Object.keys(j.error).sort()).toEqual(["code", "message", "param", "type"]);

describe("error shapes (mocked runner)", () => {
  it("returns 400 for malformed JSON", async () => {
    const res = await call("/v1/chat/completions", { body: "{not json" });
    expect(res.status).toBe(400);
    const j = (await res.json()) as any;
    shape(j);
    expect(j.error).toMatchObject({ type: "invalid_request_error", code: "invalid_json" });
    expect(j.error.message).toContain("not valid JSON");
  });

  it("returns 404 for an unknown model, naming the served one", async () => {
    const res = await call("/v1/chat/completions", {
      body: { model: "gpt-4", messages: [{ role: "user", content: "x" }] },
    });
    expect(res.status).toBe(404);
    const j = (await res.json()) as any;
    shape(j);
    expect(j.error).toMatchObject({ param: "model", code: "model_not_found" });
    expect(j.error.message).toContain('serves "house"');
  });

  it("returns 404 for an unknown variant, listing the known ones", async () => {
    const res = await call("/v1/chat/completions", {
      body: { model: "house:nope", messages: [{ role: "user", content: "x" }] },
    });
    expect(res.status).toBe(404);
    expect(((await res.json()) as any).error.message).toContain("known variants are base, massive-zero");
  });

  it("returns 413 for an oversized body", async () => {
    const res = await call("/v1/chat/completions", {
      body: { model: "house:base", messages: [{ role: "user", content: "x".repeat(3000) }] },
      env: { MAX_BODY_BYTES: "2048" },
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as any).error.message).toContain("MAX_BODY_BYTES");
  });

  it("returns 400 naming the field for missing messages and 422 for values out of range", async () => {
    const a = (await (await call("/v1/chat/completions", { body: { model: "house:base" } })).json()) as any;
    expect(a.error.param).toBe("messages");
    const res = await call("/v1/chat/completions", {
      body: { model: "house:base", messages: [{ role: "user", content: "x" }], temperature: 9 },
    });
    expect(res.status).toBe(422);
    expect(((await res.json()) as any).error.message).toContain('"temperature" must be between 0 and 2');
  });

  it("returns 404 in the same shape for an unknown route", async () => {
    const res = await call("/v1/nothing");
    expect(res.status).toBe(404);
    shape((await res.json()) as any);
  });

  it("sends nothing to the runner when validation fails", async () => {
    const t = targets({ name: "guard", url: "http://guard.runner" });
    await call("/v1/models", { env: t }); // the variant list, fetched once
    const before = (await runnerCalls())["guard.runner"]?.["/v1/generate"] ?? 0;
    for (const body of [
      "{bad",
      { model: "house:base", messages: [] },
      { model: "house:nope", messages: [{ role: "user", content: "x" }] },
      { model: "house:base", messages: [{ role: "user", content: "x" }], max_tokens: 100000 },
    ])
      expect((await call("/v1/chat/completions", { body, env: t })).status).toBeGreaterThanOrEqual(400);
    expect((await runnerCalls())["guard.runner"]?.["/v1/generate"] ?? 0).toBe(before);
  });
});
