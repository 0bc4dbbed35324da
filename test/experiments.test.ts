// Sticky A/B assignment: a hash of (user, experiment), never a random draw per request.
import { describe, expect, it } from "vitest";
import { assignArm } from "../src/experiments";
import { ADMIN, call } from "./helpers";

const exp = { name: "split", model: "house", arms: { base: 70, "massive-zero": 20, macdrop: 10 } };

describe("sticky assignment", () => {
  it("gives the same user the same arm every time", async () => {
    const first = await assignArm(exp, "user-42");
    for (let i = 0; i < 20; i++) expect(await assignArm(exp, "user-42")).toBe(first);
  });

  it("splits many users by the weights", async () => {
    const counts: Record<string, number> = {};
    const n = 4000;
    for (let i = 0; i < n; i++) {
      const arm = await assignArm(exp, `user-${i}`);
      counts[arm] = (counts[arm] ?? 0) + 1;
    }
    expect(counts.base / n).toBeCloseTo(0.7, 1);
    expect(counts["massive-zero"] / n).toBeCloseTo(0.2, 1);
    expect(counts.macdrop / n).toBeCloseTo(0.1, 1);
  });

  it("never assigns an arm of weight 0", async () => {
    const e = { name: "zero", model: "house", arms: { base: 1, "massive-zero": 0 } };
    for (let i = 0; i < 200; i++) expect(await assignArm(e, `u${i}`)).toBe("base");
  });

  it("differs between experiments for the same user (independent hashes)", async () => {
    const other = { ...exp, name: "split-2" };
    let differ = 0;
    for (let i = 0; i < 200; i++)
      if ((await assignArm(exp, `u${i}`)) !== (await assignArm(other, `u${i}`))) differ++;
    expect(differ).toBeGreaterThan(20);
  });
});

describe("experiments in D1 (mocked runner)", () => {
  it("an experiment set by the admin takes precedence over configuration", async () => {
    const put = await call("/admin/experiments/house-ab", {
      method: "PUT",
      headers: ADMIN,
      body: { model: "house", arms: { "massive-retain": 1 } },
    });
    expect(put.status).toBe(200);
    const res = await call("/v1/chat/completions", {
      body: { model: "house", messages: [{ role: "user", content: "x" }], user: "bob" },
    });
    expect(res.headers.get("x-house-variant")).toBe("massive-retain");
    const list = (await (await call("/admin/experiments", { headers: ADMIN })).json()) as any;
    expect(list.data.find((e: any) => e.name === "house-ab").source).toBe("d1");
  });

  it("rejects an experiment without positive weights, saying so", async () => {
    const res = await call("/admin/experiments/bad", {
      method: "PUT",
      headers: ADMIN,
      body: { model: "house", arms: { base: 0 } },
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.message).toContain("weight");
  });
});

describe("experiment arms and deletion (mocked runner)", () => {
  const put = (name: string, arms: Record<string, number>) =>
    call(`/admin/experiments/${name}`, { method: "PUT", headers: ADMIN, body: { model: "house", arms } });

  it("refuses every arm the runners do not serve (422 naming it), composed ones included", async () => {
    for (const arm of ["nope", "base+nope", "nope+base", "massive-zero+", "+base"]) {
      const res = await put("arms-check", { base: 1, [arm]: 1 });
      const j = (await res.json()) as any;
      expect([res.status, j.error.param], arm).toEqual([422, `arms.${arm}`]);
    }
    const list = (await (await call("/admin/experiments", { headers: ADMIN })).json()) as any;
    expect(list.data.some((e: any) => e.name === "arms-check")).toBe(false);
    expect((await put("arms-check", { base: 1, "massive-zero+macdrop": 1 })).status).toBe(200);
  });

  it("deletes an experiment, after which the model is served unassigned again", async () => {
    expect((await put("house-ab", { "massive-retain": 1 })).status).toBe(200);
    const del = await call("/admin/experiments/house-ab", { method: "DELETE", headers: ADMIN });
    expect(del.status).toBe(200);
    const list = (await (await call("/admin/experiments", { headers: ADMIN })).json()) as any;
    // What is left is the configured one (EXPERIMENTS), no longer the D1 row.
    expect(list.data.filter((e: any) => e.name === "house-ab").map((e: any) => e.source)).toEqual(["config"]);
    expect((await call("/admin/experiments/house-ab", { method: "DELETE", headers: ADMIN })).status).toBe(
      409,
    );
    expect((await call("/admin/experiments/never", { method: "DELETE", headers: ADMIN })).status).toBe(404);
    expect((await call("/admin/experiments/never", { method: "DELETE" })).status).toBe(401);
  });
});
