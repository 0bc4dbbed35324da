// The campaign queue in workerd with the real D1 and the FAKE runner: a run of known size ends with exactly
// one row per cell however its messages arrive: each delivered twice, batches retried after a consumer
// threw mid-batch, cells given up on through the dead-letter queue; and through Miniflare's own queue.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN, call, targets } from "../helpers";
import { CELLS, campaign, deliver, OK, rowCount, startMocked } from "./harness";

const progress = async (id: string) =>
  (await (await call(`/admin/campaigns/${encodeURIComponent(id)}`, { headers: ADMIN })).json()) as {
    status: string;
    done: number;
    total: number;
    errors: number;
  };

const chunks = <T>(xs: T[], n: number) =>
  Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, i * n + n));

describe("a campaign on the queue (mock producer, real consumer and D1, fake runner)", () => {
  it("enqueues one message per cell", async () => {
    const { res, run, sent } = await startMocked({ campaign: campaign("enqueue") });
    expect(res.status).toBe(202);
    expect(run.total).toBe(CELLS);
    expect(sent).toHaveLength(CELLS);
    expect(new Set(sent.map((m) => m.cell.key)).size).toBe(CELLS);
    expect(run.status).toBe("running");
  });

  it("ends with exactly one row per cell when every message is delivered twice", async () => {
    const { run, sent } = await startMocked({ campaign: campaign("twice") });
    for (const batch of chunks(sent, 8)) expect((await deliver(batch, OK)).threw).toBeNull();
    expect(await rowCount(run.id)).toEqual({ n: CELLS, keys: CELLS });
    // Again, all at once and concurrently: nothing more is written, nothing counted twice.
    await Promise.all(chunks(sent, 8).map((b) => deliver(b, OK)));
    expect(await rowCount(run.id)).toEqual({ n: CELLS, keys: CELLS });
    expect(await progress(run.id)).toMatchObject({ status: "done", done: CELLS, total: CELLS, errors: 0 });
  });

  it("ends with exactly one row per cell when a consumer throws mid-batch and the batch is redelivered", async () => {
    const { run, sent } = await startMocked({ campaign: campaign("midbatch") });
    // The runner answers 503 to its first 10 calls and the pool does not retry: some cells of the batch
    // fail, the others are written and acked, and the handler throws so the platform redelivers the rest.
    const busy = { ...targets({ name: "busy", url: "http://busy-10.midbatch" }), RUNNER_RETRIES: "0" };
    const first = await deliver(sent, busy);
    expect(first.threw?.message).toMatch(/failed and will be redelivered/);
    const acked = first.result.explicitAcks.length;
    expect(acked).toBeGreaterThan(0);
    expect(acked).toBeLessThan(CELLS);
    expect((await rowCount(run.id)).n).toBe(acked);
    console.log(`mid-batch: ${acked} of ${CELLS} cells written and acked before the handler threw`);
    expect((await progress(run.id)).status).toBe("running");
    // The platform redelivers only what was not acked; here the whole batch comes again, the worst case.
    const second = await deliver(sent, OK);
    expect(second.threw).toBeNull();
    expect(await rowCount(run.id)).toEqual({ n: CELLS, keys: CELLS });
    expect(await progress(run.id)).toMatchObject({ status: "done", done: CELLS, errors: 0 });
  });

  it("records a cell the dead-letter queue received as its error row, once", async () => {
    const { run, sent } = await startMocked({ campaign: campaign("dead") });
    await deliver(sent.slice(0, 30), OK);
    // The last 6 cells failed max_retries times: the platform moves them to the dead-letter queue.
    const dead = sent.slice(30);
    await deliver(dead, {}, "house-campaign-cells-dlq", 4);
    await deliver(dead, {}, "house-campaign-cells-dlq", 4); // and a dead letter redelivered
    expect(await rowCount(run.id)).toEqual({ n: CELLS, keys: CELLS });
    const p = await progress(run.id);
    expect(p).toMatchObject({ status: "done", done: CELLS, errors: 6 });
    const errors = await env.DB.prepare(
      "SELECT error FROM attack_results WHERE campaign = ? AND error IS NOT NULL",
    )
      .bind(run.id)
      .all<{ error: string }>();
    expect(errors.results.every((r) => /gave up: the runner pool did not answer/.test(r.error))).toBe(true);
  });

  it("records a cell whose input the runner refuses as an error row, without retrying it", async () => {
    const { run, sent } = await startMocked({ campaign: campaign("refused") });
    const buggy = targets({ name: "buggy", url: "http://buggy.refused" }); // 500: failed on this input
    const out = await deliver(sent.slice(0, 4), buggy);
    expect(out.threw).toBeNull();
    expect(out.result.explicitAcks).toHaveLength(4);
    expect(await progress(run.id)).toMatchObject({ done: 4, errors: 4 });
  });
});

describe("a campaign through Miniflare's queue (real producer and consumer)", () => {
  it("runs to exactly one row per cell", async () => {
    const res = await call("/admin/campaigns", {
      body: { campaign: { ...campaign("miniflare"), tasks: [{ suite: "heldout-cloze", n: 2 }] } },
      headers: ADMIN,
      env: OK,
    });
    expect(res.status).toBe(202);
    const { id, total } = (await res.json()) as { id: string; total: number };
    expect(total).toBe(2 * 3 * 2);
    let p = await progress(id);
    for (let i = 0; i < 100 && p.status !== "done"; i++) {
      await new Promise((r) => setTimeout(r, 200));
      p = await progress(id);
    }
    expect(p).toMatchObject({ status: "done", done: total, errors: 0 });
    expect(await rowCount(id)).toEqual({ n: total, keys: total });
  });
});
