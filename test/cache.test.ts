// The one TTL cache (API keys, variants, experiments): entries expire after the TTL, and past the size
// bound the oldest-written entry goes first.
import { describe, expect, it } from "vitest";
import { TtlCache } from "../src/cache";

describe("TtlCache", () => {
  it("forgets an entry once its time to live has passed", () => {
    const c = new TtlCache<string, number>(0);
    c.set("a", 1);
    expect(c.get("a")).toBeUndefined();
  });

  it("keeps null as a value (a key looked up and not found)", async () => {
    const c = new TtlCache<string, string | null>(60_000);
    c.set("k", null);
    expect(await c.getOr("k", async () => "loaded")).toBeNull();
  });

  it("drops the oldest-written entry past its size, a rewrite counting as new", () => {
    const c = new TtlCache<string, number>(60_000, 2);
    c.set("a", 1);
    c.set("b", 2);
    c.set("a", 3); // now newer than b
    c.set("c", 4);
    expect([c.get("a"), c.get("b"), c.get("c")]).toEqual([3, undefined, 4]);
  });
});
