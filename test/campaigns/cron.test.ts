// The cron trigger and what a finished run does (workerd, real D1, FAKE runner, MOCK queue producer): the
// scheduled handler starts the stored campaigns of the expression that fired, keeps the newest `keep` runs,
// and a run that does significantly worse than the previous one is flagged in the list and the report.
import { createExecutionContext, createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import type { CellMessage } from "../../src/campaigns/start";
import { ADMIN, call } from "../helpers";
import { CELLS, campaign, deliver, mockQueue, OK, rowCount, startMocked } from "./harness";

async function cron(expr: string) {
  const q = mockQueue();
  await worker.scheduled(
    createScheduledController({ cron: expr, scheduledTime: Date.now() }),
    { ...env, ...OK, ...q.env } as never,
    createExecutionContext(),
  );
  return q.sent;
}

type RunView = {
  id: string;
  campaign: string;
  status: string;
  started_by: string;
  published: boolean;
  regression: boolean | null;
  total: number;
};
const runs = async (name: string) =>
  (
    (await (await call(`/admin/campaigns?campaign=${name}`, { headers: ADMIN })).json()) as {
      data: RunView[];
    }
  ).data;

const store = (name: string, body: object) =>
  call(`/admin/stored-campaigns/${name}`, { method: "PUT", body, headers: ADMIN, env: OK });

describe("the cron trigger", () => {
  it("starts the stored campaigns whose cron fired, and only those", async () => {
    expect((await store("nightly", { campaign: campaign("nightly"), cron: "0 3 * * *" })).status).toBe(200);
    expect((await store("weekly", { campaign: campaign("weekly"), cron: "0 4 * * 1" })).status).toBe(200);
    const sent = await cron("0 3 * * *");
    expect(sent).toHaveLength(CELLS);
    expect(new Set(sent.map((m: CellMessage) => m.run)).size).toBe(1);
    const [run] = await runs("nightly");
    expect(run).toMatchObject({ started_by: "cron", published: true, total: CELLS, status: "running" });
    expect(await runs("weekly")).toEqual([]);
  });

  it("keeps the newest `keep` runs of a stored campaign, with their rows", async () => {
    await store("kept", { campaign: campaign("kept"), cron: "0 5 * * *", keep: 2 });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const sent = await cron("0 5 * * *");
      await deliver(sent, OK);
      ids.push(sent[0].run);
    }
    const left = (await runs("kept")).map((r) => r.id);
    expect(left).toEqual([ids[2], ids[1]]);
    expect((await rowCount(ids[0])).n).toBe(0);
    expect((await rowCount(ids[2])).n).toBe(CELLS);
  });

  it("refuses a stored campaign whose name differs from the path, or a malformed cron", async () => {
    expect((await store("other", { campaign: campaign("kept") })).status).toBe(422);
    expect((await store("kept", { campaign: campaign("kept"), cron: "nightly" })).status).toBe(400);
  });
});

describe("regression against the previous run", () => {
  it("is flagged in GET /admin/campaigns and in the report when a run loses items", async () => {
    const c = { name: "regress", variants: ["base"], tasks: [{ suite: "heldout-cloze", n: 40 }] };
    const first = await startMocked({ campaign: c });
    await deliver(first.sent, OK);
    const right = await env.DB.prepare(
      "SELECT COUNT(*) AS n FROM attack_results WHERE campaign = ? AND score = 1",
    )
      .bind(first.run.id)
      .first<{ n: number }>();
    expect(right!.n).toBeGreaterThanOrEqual(6); // enough pairs for McNemar to reach p < 0.05
    // The second run's cells all end in the dead-letter queue: every item is lost.
    const second = await startMocked({ campaign: c });
    await deliver(second.sent, {}, "house-campaign-cells-dlq", 4);
    const [now, before] = await runs("regress");
    expect(now).toMatchObject({ id: second.run.id, status: "done", regression: true });
    expect(before).toMatchObject({ id: first.run.id, regression: null }); // nothing before it to compare
    const md = await (
      await call(`/admin/campaigns/${encodeURIComponent(now.id)}/report?format=md`, { headers: ADMIN })
    ).text();
    expect(md).toContain(`**Regression** against the previous run ${first.run.id}`);
    // A third run as good as the first is no regression against the second.
    const third = await startMocked({ campaign: c });
    await deliver(third.sent, OK);
    expect((await runs("regress"))[0]).toMatchObject({ id: third.run.id, regression: false });
  });
});
