// Property-based fuzzing of the gateway in workerd (fast-check; mocked runner): for every public POST route,
// bodies built from a valid one with fields replaced by any JSON value (the numbers and strings that broke
// servers before included), extra fields, and arbitrary JSON (test/fixtures/fuzz-bodies.ts). Every answer is
// 2xx or a documented 4xx, with an error message; never a 5xx. CI runs FUZZ_RUNS (default 60) bodies per
// route; set FUZZ_RUNS=2000 in the environment of `npx vitest run test/fuzz.test.ts` for the long mode (8
// routes: 16,000 requests).
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bodies, VALID } from "./fixtures/fuzz-bodies";
import { call, newKey } from "./helpers";

const RUNS = Number((env as unknown as { FUZZ_RUNS?: string }).FUZZ_RUNS ?? 60);
const DOCUMENTED = new Set([200, 400, 401, 403, 404, 413, 422, 429]);

describe("fuzzed bodies on every public POST route (mocked runner)", () => {
  for (const [path, valid] of Object.entries(VALID))
    it(
      `${path}: every answer is 2xx or a documented 4xx`,
      async () => {
        // A fresh key every 500 requests keeps the key rate limit (600 a minute) from answering most of them.
        const keys = await Promise.all(Array.from({ length: Math.ceil(RUNS / 500) }, () => newKey("fuzz")));
        let n = 0;
        const seen: Record<number, number> = {};
        await fc.assert(
          fc.asyncProperty(bodies(valid), async (body) => {
            const headers = { authorization: `Bearer ${keys[Math.floor(n++ / 500)]}` };
            const res = await call(path, { body: JSON.stringify(body), headers });
            const text = await res.text();
            seen[res.status] = (seen[res.status] ?? 0) + 1;
            expect(DOCUMENTED.has(res.status), `${res.status} ${text.slice(0, 200)}`).toBe(true);
            if (res.status >= 400) expect(JSON.parse(text).error.message).toBeTruthy();
          }),
          { numRuns: RUNS },
        );
        expect(Object.values(seen).reduce((a, b) => a + b, 0)).toBe(RUNS);
        if (RUNS > 100) console.log(`fuzz ${path}: statuses ${JSON.stringify(seen)}`); // the long mode's figures
      },
      Math.max(20_000, RUNS * 100),
    );
});
