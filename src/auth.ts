// Who is calling: an API key (stored as its sha256 in D1), the public demo tier (no key, tight caps), or the
// admin (ADMIN_TOKEN). Middleware factories as Hono writes them, each returning a named handler.
import type { MiddlewareHandler } from "hono";
import { TtlCache } from "./cache";
import { ApiError } from "./errors";
import type { AppEnv } from "./env";

// Key lookups (found or not) are cached per isolate by hash for 30 s, at most 1,000 keys (the oldest goes
// first), so a busy key costs one D1 read per isolate every 30 s. A key revoked through the admin route stops
// working at once on the isolate that served the revocation (it clears its cache) and within 30 s elsewhere.
const keys = new TtlCache<string, string | null>(30_000, 1000);

export function forgetKeys() {
  keys.clear();
}

export async function sha256Hex(s: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s));
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The key in an "Authorization: Bearer <key>" header value; null for none. */
export function bearer(value: string | undefined, header = "authorization"): string | null {
  // Clients with no key configured often send "Bearer " (lm-evaluation-harness does): that is no key.
  if (!value || /^Bearer\s*$/i.test(value.trim())) return null;
  const m = /^Bearer\s+(.+)$/i.exec(value.trim());
  if (!m) throw new ApiError(401, `the ${header} header must be "Bearer <key>"`, { code: "invalid_api_key" });
  return m[1].trim();
}

async function keyId(db: D1Database, key: string): Promise<string | null> {
  const hash = await sha256Hex(key);
  return keys.getOr(hash, async () => {
    const row = await db
      .prepare("SELECT id FROM api_keys WHERE hash = ? AND revoked_at IS NULL")
      .bind(hash)
      .first<{ id: string }>();
    return row?.id ?? null;
  });
}

/** Sets c.var.auth: tier "key" with a valid key, "demo" without one (unless `demo` is false). */
export function identify({ header = "authorization", demo = true } = {}): MiddlewareHandler<AppEnv> {
  return async function identify(c, next) {
    const client =
      c.req.header("cf-connecting-ip") ?? c.req.header("x-forwarded-for")?.split(",")[0].trim() ?? "local";
    const key = bearer(c.req.header(header), header);
    if (key === null) {
      if (!demo)
        throw new ApiError(
          401,
          `this route needs an API key: send "Authorization: Bearer <key>" (an admin creates keys with POST /admin/keys)`,
          {
            code: "missing_api_key",
          },
        );
      c.set("auth", { tier: "demo", keyId: null, client });
      return next();
    }
    const id = await keyId(c.env.DB, key);
    if (!id)
      throw new ApiError(
        401,
        "invalid or revoked API key: check the key, or omit the Authorization header to use the public demo tier",
        {
          code: "invalid_api_key",
        },
      );
    c.set("auth", { tier: "key", keyId: id, client });
    return next();
  };
}

export function requireAdmin({ header = "authorization" } = {}): MiddlewareHandler<AppEnv> {
  return async function requireAdmin(c, next) {
    const expected = c.env.ADMIN_TOKEN;
    if (!expected)
      throw new ApiError(401, "admin routes are disabled: set the ADMIN_TOKEN secret (.dev.vars locally)");
    const got = bearer(c.req.header(header), header);
    if (got === null || !(await equalSecrets(got, expected)))
      throw new ApiError(401, `admin routes need "Authorization: Bearer <ADMIN_TOKEN>"`, {
        code: "invalid_admin_token",
      });
    c.set("auth", { tier: "admin", keyId: null, client: "admin" });
    return next();
  };
}

async function equalSecrets(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([sha256Hex(a), sha256Hex(b)]);
  const enc = new TextEncoder();
  return crypto.subtle.timingSafeEqual(enc.encode(x), enc.encode(y));
}

/** A new key: "hk_" and 32 random bytes, base64url. Only its hash is stored. */
export function newKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return (
    "hk_" +
    btoa(String.fromCharCode(...bytes))
      .replace(/\+/g, "-")
      .replace(/\//g, "_")
      .replace(/=+$/, "")
  );
}
