// Bad input, by class, on every public route that samples (mocked runner): a number a sampler cannot use
// (subnormal, or past float range so JSON reads it as Infinity) is a 422 naming the field, and never reaches
// a runner, where it could fail a batch shared with other clients.
import { describe, expect, it } from "vitest";
import { call, newKey, runnerCalls } from "../helpers";

const ROUTES: Record<string, Record<string, unknown>> = {
  "/v1/chat/completions": { model: "house:base", messages: [{ role: "user", content: "hi" }], max_tokens: 2 },
  "/v1/completions": { model: "house:base", prompt: "hi", max_tokens: 2 },
  "/v1/compare": { prompt: "hi", max_tokens: 2 },
};
const FLOATS = ["temperature", "top_p"];
// Spelled as JSON text: 1e999 is read as Infinity by JSON.parse.
const BAD_NUMBERS = ["5e-324", "-5e-324", "1e-310", "2.225e-308", "1e999", "-1e999"];

// With a key: the demo tier's rate limit would answer 429 first.
const asKey = async () => ({ authorization: `Bearer ${await newKey("bad-input")}` });
const generated = async () => (await runnerCalls())["ok.runner"]?.["/v1/generate"] ?? 0;

describe("non-finite and subnormal numbers (mocked runner)", () => {
  for (const [path, body] of Object.entries(ROUTES))
    for (const field of FLOATS)
      it(`${path} answers 422 for every bad ${field} and calls no runner`, async () => {
        const headers = await asKey();
        const before = await generated();
        for (const n of BAD_NUMBERS) {
          const raw = JSON.stringify({ ...body, [field]: 0.5 }).replace("0.5", n);
          const res = await call(path, { body: raw, headers });
          const j = (await res.json()) as any;
          expect([res.status, j.error.param], n).toEqual([422, field]);
        }
        expect(await generated()).toBe(before);
      });

  it("accepts the smallest normal number and 1e-300 (sampled as greedy by the runner)", async () => {
    const headers = await asKey();
    for (const n of ["2.2250738585072014e-308", "1e-300"]) {
      const raw = JSON.stringify({ ...ROUTES["/v1/completions"], temperature: 0.5 }).replace("0.5", n);
      expect((await call("/v1/completions", { body: raw, headers })).status, n).toBe(200);
    }
  });
});
