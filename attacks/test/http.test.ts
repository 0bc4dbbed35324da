// The HTTP layer against a real local server (node:http on a free loopback port): a 429 with Retry-After
// pauses the target's bucket for that long and the request is retried; errors carry the server's message;
// the bucket spaces requests at its rate.
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RateBucket, requestJson, retryAfterMs } from "../http";

let server: Server;
let url = "";
let hits: number[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    hits.push(Date.now());
    if (req.url === "/busy" && hits.length === 1) {
      res.writeHead(429, { "retry-after": "1", "content-type": "application/json" });
      return res.end('{"error": {"message": "slow down"}}');
    }
    if (req.url === "/bad") {
      res.writeHead(422, { "content-type": "application/json" });
      return res.end('{"error": {"message": "k must be in 1..64"}}');
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"ok": true}');
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => server.close());

describe("requestJson", () => {
  it("honours 429 Retry-After, then succeeds", async () => {
    hits = [];
    const t0 = Date.now();
    expect(await requestJson(`${url}/busy`, {}, { bucket: new RateBucket(0) })).toEqual({ ok: true });
    expect(hits).toHaveLength(2);
    expect(hits[1] - t0).toBeGreaterThanOrEqual(950);
  });

  it("throws the server's own message on a 4xx, without retrying", async () => {
    hits = [];
    await expect(requestJson(`${url}/bad`, {}, { bucket: new RateBucket(0) })).rejects.toThrow(
      /422: k must be in 1\.\.64/,
    );
    expect(hits).toHaveLength(1);
  });

  it("a bucket of 20 per second spaces 5 requests over about 200 ms", async () => {
    hits = [];
    const bucket = new RateBucket(20, 1);
    await Promise.all(Array.from({ length: 5 }, () => requestJson(`${url}/ok`, undefined, { bucket })));
    expect(hits[4] - hits[0]).toBeGreaterThanOrEqual(180);
  });

  it("reads Retry-After as seconds or a date, capped", () => {
    expect(retryAfterMs("2", 0, 30_000)).toBe(2000);
    expect(retryAfterMs("120", 0, 30_000)).toBe(30_000);
    expect(retryAfterMs(null, 2, 30_000)).toBe(1000);
  });
});
