// The wire contract, proved on the gateway's side: every case of the shared corpus
// (gpu-runner/tests/contract/requests.json, which the real runner answers in gpu-runner/tests/test_contract.py)
// is refused by the gateway's runner client with the runner's status and type, or let through; and the fake
// runner answers each case exactly as the real one does. The 503 type is the same name on both sides.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import corpus from "../gpu-runner/tests/contract/requests.json";
import { ApiError } from "../src/errors";
import { check, REQUESTS } from "../src/runner/wire";
import { sse } from "./helpers";

type Answer = {
  name: string;
  path: string;
  body: unknown;
  keys?: string[];
  delta?: string[];
  final?: string[];
};
type Case = {
  name: string;
  method: string;
  path: string;
  body?: unknown;
  raw?: string;
  status: number;
  by?: string;
};
const cases = corpus.cases as Case[];
const types = corpus.types as Record<string, string>;

/** What the gateway's runner client does before a body leaves (runner/pool.ts): check it against the contract. */
function clientStatus(c: Case): number {
  const url = new URL("http://runner" + c.path);
  const input = c.method === "GET" ? Object.fromEntries(url.searchParams) : c.body;
  try {
    check(REQUESTS[url.pathname], input);
    return 200;
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    expect(e.type).toBe(types[String(e.status)]);
    return e.status;
  }
}

describe("the wire contract (shared corpus; fake runner)", () => {
  it.each(cases.filter((c) => c.raw === undefined))("gateway client: $name", (c) => {
    // Refusals that need the model (an unknown variant) are the runner's to make: the client lets them through.
    expect(clientStatus(c)).toBe(c.by === "model" ? 200 : c.status);
  });

  it.each(cases)("fake runner: $name", async (c) => {
    const fake = (env as unknown as { RUNNER: Fetcher }).RUNNER;
    const body = c.raw ?? (c.body === undefined ? undefined : JSON.stringify(c.body));
    const res = await fake.fetch("http://ok.contract" + c.path, { method: c.method, body });
    expect(res.status).toBe(c.status);
    if (c.status >= 400) expect(((await res.json()) as any).error.type).toBe(types[String(c.status)]);
  });

  it.each(corpus.answers as Answer[])("fake runner answers in the contract's shapes: $name", async (a) => {
    const fake = (env as unknown as { RUNNER: Fetcher }).RUNNER;
    const res = await fake.fetch("http://ok.contract" + a.path, {
      method: "POST",
      body: JSON.stringify(a.body),
    });
    const text = await res.text();
    const got: Record<string, string[]> = {};
    if (text.startsWith("data:")) {
      const events = sse(text);
      Object.assign(got, { delta: Object.keys(events[0]).sort(), final: Object.keys(events.at(-1)).sort() });
    } else {
      const j = JSON.parse(text);
      got.keys = Object.keys(j.results ? j.results[0] : j).sort();
    }
    const { name: _, path: __, body: ___, ...want } = a;
    expect(got).toEqual(want);
  });

  it("names each error status with the contract's type, 503 included", () => {
    for (const [status, type] of Object.entries(types))
      expect(new ApiError(Number(status) as 400, "x").type).toBe(type);
  });
});
