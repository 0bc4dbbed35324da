// API keys (hashed in D1, created by the admin) and the admin secret (mocked runner behind the gateway).
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN, call, newKey } from "./helpers";

const chat = { model: "house:base", messages: [{ role: "user", content: "hi" }] };

describe("API keys", () => {
  it("creates a key through the admin route and stores only its hash", async () => {
    const res = await call("/admin/keys", { body: { name: "alice" }, headers: ADMIN });
    expect(res.status).toBe(201);
    const { id, key } = (await res.json()) as any;
    expect(key).toMatch(/^hk_/);
    const row = await env.DB.prepare("SELECT * FROM api_keys WHERE id = ?").bind(id).first<any>();
    expect(row.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(row)).not.toContain(key);
  });

  it("accepts a valid key", async () => {
    const key = await newKey();
    const res = await call("/v1/chat/completions", {
      body: chat,
      headers: { authorization: `Bearer ${key}` },
    });
    expect(res.status).toBe(200);
  });

  it("returns 401 with an invalid key, in the OpenAI error shape", async () => {
    const res = await call("/v1/chat/completions", {
      body: chat,
      headers: { authorization: "Bearer hk_nope" },
    });
    expect(res.status).toBe(401);
    const j = (await res.json()) as any;
    expect(j.error).toMatchObject({ type: "authentication_error", code: "invalid_api_key", param: null });
    expect(j.error.message).toContain("invalid or revoked API key");
  });

  it("returns 401 for a malformed Authorization header", async () => {
    const res = await call("/v1/models", { headers: { authorization: "Token abc" } });
    expect(res.status).toBe(401);
    expect(((await res.json()) as any).error.message).toContain("Bearer");
  });

  it("returns 401 once a key is revoked", async () => {
    const created = (await (
      await call("/admin/keys", { body: { name: "bob" }, headers: ADMIN })
    ).json()) as any;
    expect((await call(`/admin/keys/${created.id}`, { method: "DELETE", headers: ADMIN })).status).toBe(200);
    const res = await call("/v1/chat/completions", {
      body: chat,
      headers: { authorization: `Bearer ${created.key}` },
    });
    expect(res.status).toBe(401);
  });

  it("returns 401 for a key revoked after it was cached", async () => {
    const created = (await (
      await call("/admin/keys", { body: { name: "carol" }, headers: ADMIN })
    ).json()) as any;
    const headers = { authorization: `Bearer ${created.key}` };
    expect((await call("/v1/chat/completions", { body: chat, headers })).status).toBe(200);
    expect((await call(`/admin/keys/${created.id}`, { method: "DELETE", headers: ADMIN })).status).toBe(200);
    expect((await call("/v1/chat/completions", { body: chat, headers })).status).toBe(401);
  });

  it("reads a key from D1 once, then from the isolate's cache", async () => {
    const key = await newKey("dave");
    const lookups: string[] = [];
    // The real D1, with every key lookup noted.
    const DB = new Proxy(env.DB, {
      get(db, name) {
        const v = Reflect.get(db, name);
        if (name === "prepare")
          return (sql: string) => {
            if (sql.includes("FROM api_keys")) lookups.push(sql);
            return db.prepare(sql);
          };
        return typeof v === "function" ? v.bind(db) : v;
      },
    });
    for (let i = 0; i < 3; i++) {
      const res = await call("/v1/chat/completions", {
        body: chat,
        headers: { authorization: `Bearer ${key}` },
        env: { DB },
      });
      expect(res.status).toBe(200);
    }
    expect(lookups).toHaveLength(1);
  });

  it("returns 401 without a key on /v1/score and /v1/massive", async () => {
    for (const [path, body] of [
      ["/v1/score", { requests: [{ variant: "base", context: "a", continuation: "b" }] }],
      ["/v1/massive", undefined],
    ] as const) {
      const res = await call(path, { body });
      expect(res.status).toBe(401);
      expect(((await res.json()) as any).error.message).toContain("needs an API key");
    }
  });
});

describe("admin routes", () => {
  it("return 401 without the admin token", async () => {
    const res = await call("/admin/requests");
    expect(res.status).toBe(401);
    expect(((await res.json()) as any).error.message).toContain("ADMIN_TOKEN");
  });

  it("return 401 with a wrong admin token", async () => {
    expect((await call("/admin/keys", { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
  });

  it("are disabled when no ADMIN_TOKEN is set", async () => {
    const res = await call("/admin/keys", { headers: ADMIN, env: { ADMIN_TOKEN: undefined } });
    expect(res.status).toBe(401);
    expect(((await res.json()) as any).error.message).toContain("set the ADMIN_TOKEN secret");
  });
});
