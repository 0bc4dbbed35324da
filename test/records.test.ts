// Every request gets a D1 row, written with waitUntil, failed ones included; the admin pages through them.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN, call, targets } from "./helpers";

const row = (id: string | null) =>
  env.DB.prepare("SELECT * FROM requests WHERE id = ?").bind(id).first<any>();
const byClientId = (id: string) =>
  env.DB.prepare("SELECT * FROM requests WHERE client_request_id = ?").bind(id).first<any>();

describe("request records (mocked runner)", () => {
  it("writes a row for a success with variant, experiment, tokens and latency", async () => {
    const res = await call("/v1/chat/completions", {
      body: { model: "house", messages: [{ role: "user", content: "hi" }], user: "rec-1" },
    });
    const r = await row(res.headers.get("x-request-id"));
    expect(r).toMatchObject({
      route: "/v1/chat/completions",
      status: 200,
      experiment: "house-ab",
      variant: res.headers.get("x-house-variant"),
      tier: "demo",
      target: "ok",
      stream: 0,
    });
    expect(r.completion_tokens).toBeGreaterThan(0);
    expect(r.latency_ms).toBeGreaterThan(0);
  });

  it("writes a row for a stream once it has ended, with its token counts", async () => {
    const res = await call("/v1/chat/completions", {
      body: { model: "house:base", messages: [{ role: "user", content: "s" }], stream: true },
    });
    const r = await row(res.headers.get("x-request-id"));
    expect(r).toMatchObject({
      status: 200,
      stream: 1,
      completion_tokens: "base says s".length,
      prompt_tokens: 5,
    });
  });

  it("writes a row for a client error with its status and error type", async () => {
    const res = await call("/v1/chat/completions", { body: "{oops" });
    expect(await row(res.headers.get("x-request-id"))).toMatchObject({
      status: 400,
      error_type: "invalid_request_error",
    });
  });

  it("writes a row when the runner is down", async () => {
    const res = await call("/v1/chat/completions", {
      body: { model: "house:base", messages: [{ role: "user", content: "x" }] },
      env: targets({ name: "down-r", url: "http://down.r.runner" }),
    });
    expect(await row(res.headers.get("x-request-id"))).toMatchObject({
      status: 503,
      error_type: "unavailable_error",
      variant: "base",
    });
  });

  it("writes the rows of concurrent requests, batched", async () => {
    const ids = ["batch-1", "batch-2", "batch-3"];
    await Promise.all(
      ids.map((id) =>
        call("/v1/chat/completions", {
          body: { model: "house:base", messages: [{ role: "user", content: id }] },
          headers: { "x-request-id": id },
        }),
      ),
    );
    for (const id of ids) expect(await byClientId(id)).toMatchObject({ client_request_id: id, status: 200 });
  });

  it("pages through rows filtered by experiment and variant", async () => {
    for (let i = 0; i < 5; i++)
      await call("/v1/chat/completions", {
        body: { model: "house:massive-zero", messages: [{ role: "user", content: `p${i}` }] },
      });
    const first = (await (
      await call("/admin/requests?variant=massive-zero&limit=3", { headers: ADMIN })
    ).json()) as any;
    expect(first.data).toHaveLength(3);
    expect(first.data.every((r: any) => r.variant === "massive-zero")).toBe(true);
    const second = (await (
      await call(
        `/admin/requests?variant=massive-zero&limit=3&cursor=${encodeURIComponent(first.next_cursor)}`,
        { headers: ADMIN },
      )
    ).json()) as any;
    expect(second.data.length).toBeGreaterThanOrEqual(2);
    expect(second.data.some((r: any) => first.data.some((f: any) => f.id === r.id))).toBe(false);
    const byExp = (await (
      await call("/admin/requests?experiment=house-ab", { headers: ADMIN })
    ).json()) as any;
    expect(byExp.data.length).toBeGreaterThan(0);
    expect(byExp.data.every((r: any) => r.experiment === "house-ab")).toBe(true);
  });

  it("rejects a bad page size, saying the range", async () => {
    const res = await call("/admin/requests?limit=0", { headers: ADMIN });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.message).toContain("1 to 500");
  });
});
