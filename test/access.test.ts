// Access audit (issue 11), in workerd with the real D1 and the fake runner. The admin routes are read off the
// app's own route table, not listed by hand, so a route added later (any branch's) is audited automatically:
// each refuses a request with no secret, a wrong one, and an API key. Keys are stored only as hashes and
// never reach a log line or a record; the demo tier reaches no admin route, no way to register variants or
// adapters, and no variant outside DEMO_VARIANTS.
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { app } from "../src/index";
import { ADMIN, call, newKey, runnerCalls } from "./helpers";

/** Every (method, path) the app serves, as Hono registered them; middleware entries (method ALL) left out. */
const served = () =>
  [...new Set(app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path}`))].map(
    (x) => x.split(" ") as [string, string],
  );
const adminRoutes = () => served().filter(([, path]) => path.startsWith("/admin"));
// A concrete path for a route pattern ("/admin/keys/:id" -> "/admin/keys/x"); a body any POST/PUT can read.
const concrete = (path: string) => path.replace(/:[^/]+/g, "x").replace(/\*/g, "x");
const bodyFor = (method: string) => (method === "GET" || method === "DELETE" ? undefined : { name: "x" });

async function refused(method: string, path: string, headers: Record<string, string>) {
  const res = await call(concrete(path), { method, body: bodyFor(method), headers });
  return { status: res.status, error: ((await res.json()) as any).error };
}

describe("every admin route, enumerated from the app", () => {
  it("finds the admin routes in the app's route table", () => {
    const found = adminRoutes().map((r) => r.join(" "));
    // The ones this branch knows of must be among them (others may be added; they are audited too).
    for (const r of ["POST /admin/keys", "GET /admin/keys", "DELETE /admin/keys/:id", "GET /admin/requests"])
      expect(found).toContain(r);
  });

  it("refuses each without the admin secret, with a wrong one, and with an API key", async () => {
    const key = await newKey("not-admin");
    const callers = {
      none: {},
      wrong: { authorization: "Bearer wrong-token" },
      almost: { authorization: `${ADMIN.authorization}x` }, // the right token plus one character
      key: { authorization: `Bearer ${key}` },
    };
    for (const [method, path] of adminRoutes())
      for (const [who, headers] of Object.entries(callers)) {
        const { status, error } = await refused(method, path, headers);
        expect({ route: `${method} ${path}`, who, status }).toEqual({
          route: `${method} ${path}`,
          who,
          status: 401,
        });
        expect(error.message).toContain("ADMIN_TOKEN");
      }
  });

  it("changes nothing when refused: no key is created or revoked", async () => {
    const before = await env.DB.prepare(
      "SELECT COUNT(*) AS n FROM api_keys WHERE revoked_at IS NULL",
    ).first();
    for (const [method, path] of adminRoutes()) await refused(method, path, {});
    const after = await env.DB.prepare("SELECT COUNT(*) AS n FROM api_keys WHERE revoked_at IS NULL").first();
    expect(after).toEqual(before);
  });
});

describe("API keys and the admin secret", () => {
  afterEach(() => vi.restoreAllMocks());

  it("compares the admin secret in constant time (crypto.subtle.timingSafeEqual on equal-length digests)", async () => {
    const spy = vi.spyOn(crypto.subtle, "timingSafeEqual");
    expect((await call("/admin/keys", { headers: { authorization: "Bearer short" } })).status).toBe(401);
    expect((await call("/admin/keys", { headers: ADMIN })).status).toBe(200);
    expect(spy).toHaveBeenCalledTimes(2);
    for (const [a, b] of spy.mock.calls)
      expect([(a as Uint8Array).byteLength, (b as Uint8Array).byteLength]).toEqual([64, 64]);
  });

  it("never writes a key or the admin secret to a log line or a request record", async () => {
    const lines: unknown[][] = [];
    for (const level of ["log", "info", "warn", "error", "debug"] as const)
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void lines.push(args));
    const key = await newKey("logged");
    const chat = { model: "house:base", messages: [{ role: "user", content: "hi" }] };
    const keyed = { authorization: `Bearer ${key}` };
    await call("/v1/chat/completions", { body: chat, headers: keyed }); // accepted
    await call("/v1/chat/completions", { body: { ...chat, max_tokens: 10 ** 6 }, headers: keyed }); // 422
    await call("/v1/chat/completions", { body: chat, headers: { authorization: `Bearer ${key}z` } }); // 401
    // A runner that fails (500) and one that is down (503) take the error paths that do log.
    await call("/v1/chat/completions", {
      body: chat,
      headers: keyed,
      env: { RUNNER_TARGETS: JSON.stringify([{ name: "b", url: "http://buggy.runner" }]) },
    });
    await call("/v1/chat/completions", {
      body: chat,
      headers: keyed,
      env: { RUNNER_TARGETS: JSON.stringify([{ name: "d", url: "http://down.runner" }]) },
    });
    const secret = ADMIN.authorization.slice("Bearer ".length);
    const logged = lines.map((args) => args.map((a) => (a instanceof Error ? a.stack : String(a))).join(" "));
    for (const s of [key, secret]) expect(logged.join("\n")).not.toContain(s);
    const { results } = await env.DB.prepare("SELECT * FROM requests").all();
    for (const s of [key, secret]) expect(JSON.stringify(results)).not.toContain(s);
  });
});

describe("the demo tier (no key)", () => {
  it("reaches no admin route", async () => {
    for (const [method, path] of adminRoutes())
      expect((await refused(method, path, { "cf-connecting-ip": "203.0.113.9" })).status).toBe(401);
  });

  it("has no route that registers variants or adapters outside /admin, and none reaches the runner's", async () => {
    const registering = served().filter(
      ([method, path]) => method !== "GET" && /variant|adapter/.test(path) && !path.startsWith("/admin"),
    );
    expect(registering).toEqual([]);
    const before = (await runnerCalls())["ok.runner"]?.["/v1/variants"] ?? 0;
    for (const path of ["/v1/variants", "/variants", "/v1/adapters", "/demo/variants"]) {
      const res = await call(path, { body: { name: "mine", adapter: "../../etc" } });
      expect(res.status).toBe(404);
    }
    expect((await runnerCalls())["ok.runner"]?.["/v1/variants"] ?? 0).toBe(before);
  });

  it("gets 403 for every variant the runner serves outside DEMO_VARIANTS, on every generating route", async () => {
    const allowed = ["base", "massive-zero"];
    const runnerVariants = ["base", "massive-zero", "massive-retain", "random-zero", "macdrop"];
    const cfg = { DEMO_VARIANTS: allowed.join(",") };
    const headers = { "cf-connecting-ip": "203.0.113.10" };
    const outside = [
      ...runnerVariants.filter((v) => !allowed.includes(v)),
      "base+macdrop", // a composition is open only when all of it is
    ];
    for (const v of outside) {
      const bodies: [string, unknown][] = [
        ["/v1/chat/completions", { model: `house:${v}`, messages: [{ role: "user", content: "hi" }] }],
        ["/v1/completions", { model: `house:${v}`, prompt: "hi", max_tokens: 2 }],
        ["/v1/compare", { prompt: "hi", variants: [v], max_tokens: 2 }],
      ];
      for (const [path, body] of bodies) {
        const res = await call(path, { body, headers, env: cfg });
        expect({ path, v, status: res.status }).toEqual({ path, v, status: 403 });
      }
    }
    for (const v of allowed) {
      const res = await call("/v1/compare", {
        body: { prompt: "hi", variants: [v], max_tokens: 2 },
        headers,
        env: cfg,
      });
      expect(res.status).toBe(200);
    }
  });
});
