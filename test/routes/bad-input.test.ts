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

// Every POST route that reads a body, with a body each route would accept apart from the fault.
const POSTS: Record<string, string> = {
  "/v1/chat/completions": '{"messages": [{"role": "user", "content": "%s"}], "max_tokens": 1}',
  "/v1/completions": '{"prompt": "%s", "max_tokens": 1}',
  "/v1/compare": '{"prompt": "%s", "max_tokens": 1}',
  "/v1/score": '{"rolling": [{"text": "%s"}]}',
  "/v1/tokenize": '{"text": "%s"}',
  "/tokenize": '{"prompt": "%s"}',
  "/v1/detokenize": '{"tokens": [1, "%s"]}',
};
const DEEP = "[".repeat(100_000) + "]".repeat(100_000);
const faults = (template: string) => [
  DEEP,
  template.replace('"%s"', DEEP),
  template.replace('"%s"', "1" + "0".repeat(5000)),
  ...["\\ud800", "\\udfff", "a\\udc00b", "\\ud800\\ud800"].map((s) => template.replace("%s", s)),
];

describe("malformed bodies and queries (mocked runner)", () => {
  for (const [path, template] of Object.entries(POSTS))
    it(`${path} answers 4xx to every malformed body and calls no runner`, async () => {
      const headers = await asKey();
      const before = JSON.stringify((await runnerCalls())["ok.runner"] ?? {});
      for (const raw of faults(template)) {
        const res = await call(path, { body: raw, headers });
        const j = (await res.json()) as any;
        expect(res.status, raw.slice(0, 60)).toBeGreaterThanOrEqual(400);
        expect(res.status, raw.slice(0, 60)).toBeLessThan(500);
        expect(j.error.message).toBeTruthy();
      }
      expect(JSON.stringify((await runnerCalls())["ok.runner"] ?? {})).toBe(before);
    });

  for (const path of ["/v1/completions", "/v1/tokenize"])
    it(`${path} answers 4xx to a Content-Encoding the body does not have`, async () => {
      const headers = await asKey();
      for (const encoding of ["gzip", "deflate", "br", "bogus"]) {
        const res = await call(path, {
          body: POSTS[path].replace("%s", "hi"),
          headers: { ...headers, "content-encoding": encoding },
        });
        expect(res.status, encoding).toBeGreaterThanOrEqual(400);
        expect(res.status, encoding).toBeLessThan(500);
      }
    });

  it("GET /v1/massive answers 400 to every k that is not ASCII digits, calling no runner", async () => {
    const headers = await asKey();
    const before = JSON.stringify((await runnerCalls())["ok.runner"] ?? {});
    for (const k of ["²", "１", "٣", "1e3", "-1", "0x10", " 5", "", "nan"]) {
      const res = await call(`/v1/massive?k=${encodeURIComponent(k)}`, { headers });
      expect(res.status, k).toBe(400);
    }
    expect(JSON.stringify((await runnerCalls())["ok.runner"] ?? {})).toBe(before);
  });
});
