// /v1/compare against the FAKE runner: one runner call, answers side by side, divergence, streaming.
import { describe, expect, it } from "vitest";
import { call, newKey, runnerCalls, sse, targets } from "../helpers";

describe("POST /v1/compare (mocked runner)", () => {
  it("sends all variants in one runner call and returns them side by side with divergence", async () => {
    const env = targets({ name: "cmp", url: "http://ok.cmp.runner" });
    const key = await newKey();
    const res = await call("/v1/compare", {
      body: { prompt: "hello", max_tokens: 40 },
      env,
      headers: { authorization: `Bearer ${key}` },
    });
    const j = (await res.json()) as any;
    expect((await runnerCalls())["ok.cmp.runner"]["/v1/generate"]).toBe(1);
    expect(j.results.map((r: any) => r.variant)).toEqual([
      "base",
      "massive-zero",
      "massive-retain",
      "random-zero",
      "macdrop",
    ]);
    expect(j.reference).toBe("base");
    const base = j.results[0];
    expect(base).toMatchObject({ text: "base says hello", finish_reason: "stop", latency_ms: 3.1 });
    expect(base.token_logprobs.length).toBe(base.tokens.length);
    const d = j.divergence[0];
    expect(d).toMatchObject({ variant: "massive-zero", reference: "base", first_divergence: 0 });
    expect(d.token_overlap).toBeGreaterThanOrEqual(0);
    expect(d.token_overlap).toBeLessThan(1);
    expect(typeof d.logprob_gap).toBe("number");
  });

  it("gives the demo tier its allowed variants by default", async () => {
    const j = (await (await call("/v1/compare", { body: { prompt: "hi" } })).json()) as any;
    // DEMO_VARIANTS the runner serves; a composed name (macdrop+massive-zero) only when asked for
    expect(j.results.map((r: any) => r.variant)).toEqual([
      "base",
      "massive-zero",
      "massive-retain",
      "macdrop",
    ]);
  });

  it("accepts composed variant names such as base+base", async () => {
    const key = await newKey();
    const j = (await (
      await call("/v1/compare", {
        body: { prompt: "hi", variants: ["base", "base+base"] },
        headers: { authorization: `Bearer ${key}` },
      })
    ).json()) as any;
    expect(j.results).toHaveLength(2);
  });

  it("streams deltas tagged by variant, a done event per row and a summary", async () => {
    const res = await call("/v1/compare", {
      body: { prompt: "abc", variants: ["base", "massive-zero"], stream: true, max_tokens: 40 },
    });
    const events = sse(await res.text());
    const text = (v: string) =>
      events
        .filter((e) => e.type === "delta" && e.variant === v)
        .map((e) => e.delta)
        .join("");
    expect(text("base")).toBe("base says abc");
    expect(text("massive-zero")).toBe("massive-zero says abc");
    expect(events.filter((e) => e.type === "done")).toHaveLength(2);
    const summary = events.at(-1);
    expect(summary.type).toBe("summary");
    expect(summary.divergence[0].variant).toBe("massive-zero");
  });

  it("rejects an unknown variant before calling the runner", async () => {
    const res = await call("/v1/compare", { body: { prompt: "x", variants: ["base", "nope"] } });
    expect(res.status).toBe(404);
    expect(((await res.json()) as any).error.param).toBe("variants[1]");
  });
});
