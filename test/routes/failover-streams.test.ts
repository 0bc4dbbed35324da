// Failover of a streamed answer (mocked runner), and its policy: a stream can fail over to the next target
// only before its first byte. A runner that dies before sending anything is skipped and the next target
// answers the whole request; once bytes have reached the client nothing is replayed (the client already
// holds part of one answer, and a second runner would write another), so a runner that dies after them
// ends the stream with an error event, and the next target is never called. One record row either way.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, newKey, runnerCalls, sse, targets } from "../helpers";

const ROUTES: Record<string, Record<string, unknown>> = {
  "/v1/chat/completions": { model: "house:base", messages: [{ role: "user", content: "hi" }] },
  "/v1/completions": { model: "house:base", prompt: "hi" },
  "/v1/compare": { prompt: "hi", variants: ["base", "macdrop"] },
};
const row = async (id: string | null) =>
  (await env.DB.prepare("SELECT * FROM requests WHERE id = ?").bind(id).all<any>()).results;
// Target names are unique per test: a target that failed is tried last for a while (per name).
const generated = async (host: string) => (await runnerCalls())[host]?.["/v1/generate"] ?? 0;
/** A streamed request with a fresh key through two targets, first then second. */
const streamThrough = async (path: string, body: object, first: string, second: string) =>
  call(path, {
    body: { ...body, stream: true, max_tokens: 5 },
    headers: { authorization: `Bearer ${await newKey("failover")}` },
    env: targets({ name: first, url: `http://${first}` }, { name: second, url: `http://${second}` }),
  });

describe("a stream fails over before its first byte, never after", () => {
  for (const [i, [path, body]] of Object.entries(ROUTES).entries()) {
    it(`${path}: a runner that dies before its first byte fails over; the next answers it all`, async () => {
      const [gone, ok] = [`gone.f${i}.runner`, `ok.f${i}.runner`];
      const res = await streamThrough(path, body, gone, ok);
      const text = await res.text();
      const events = sse(text);
      expect(res.status).toBe(200);
      expect(
        events.filter((e) => e.error),
        text,
      ).toEqual([]);
      expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
      const finished = events.flatMap((e) => e.choices ?? (e.type === "done" ? [e] : []));
      expect(finished.some((x: any) => x.finish_reason)).toBe(true);
      expect([await generated(gone), await generated(ok)]).toEqual([1, 1]);
      expect(await row(res.headers.get("x-request-id"))).toMatchObject([{ status: 200, target: ok }]);
    });

    it(`${path}: a runner that dies after its first byte gives an error event; the next is never called`, async () => {
      const [dies, ok] = [`dies.g${i}.runner`, `ok.g${i}.runner`];
      const res = await streamThrough(path, body, dies, ok);
      const text = await res.text();
      expect(text).toContain("partial"); // the bytes the client already had
      expect(sse(text).filter((e) => e.error)).toMatchObject([{ error: { type: "runner_error" } }]);
      expect([await generated(dies), await generated(ok)]).toEqual([1, 0]);
      expect(await row(res.headers.get("x-request-id"))).toMatchObject([{ status: 502, target: dies }]);
    });
  }
});
