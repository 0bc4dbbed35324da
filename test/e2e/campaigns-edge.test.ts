// A campaign at the edge, end to end: the gateway in `wrangler dev` (local D1 and Miniflare's local queues,
// producer and consumer in one process, as `npm start` runs it) in front of a real runner on the house
// model. The run ends with one row per cell and no errors, and its scores are the CLI's for the same cells
// (the attack library run straight against the same runner): one cell runner, two engines. The wall time
// is printed (bench/campaigns/README.md records it). Published, the run's report is what the demo page's
// Robustness tab shows in headless Chromium (screenshot: test-artifacts/robustness.png).
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, pageErrors } from "./chromium";
import { parseCampaign } from "../../attacks/campaign";
import { HttpClient } from "../../attacks/client";
import { Records } from "../../attacks/records";
import { runCampaign } from "../../attacks/run";
import type { ResultRow } from "../../attacks/types";
import { ADMIN_TOKEN, root, startGateway, startRunner, stop } from "./servers";

const CAMPAIGN = {
  name: "edge-e2e",
  variants: ["base", "massive-zero"],
  tasks: [
    { suite: "heldout-cloze", n: 4 },
    { suite: "heldout-next", n: 2 },
    { suite: "heldout-ppl", n: 1 },
  ],
  attacks: ["drop-bos", { id: "charswap", params: { rate: 0.2 } }],
  max_tokens: 4,
};
const CELLS = 7 * 3 * 2; // items x (clean + 2 attacks) x variants

let runner: Awaited<ReturnType<typeof startRunner>>;
let gateway: Awaited<ReturnType<typeof startGateway>>;
let runId = "";
const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" };

beforeAll(async () => {
  runner = await startRunner(join(root, "models/house"));
  gateway = await startGateway(runner.url);
}, 240_000);

afterAll(() => {
  stop(gateway?.proc);
  stop(runner?.proc);
});

describe("a campaign through wrangler dev's local queues on the house model", () => {
  it("ends with one row per cell, scored as the CLI scores the same cells", async () => {
    const t0 = performance.now();
    const res = await fetch(`${gateway.url}/admin/campaigns`, {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ campaign: CAMPAIGN }),
    });
    expect(res.status).toBe(202);
    const run = (await res.json()) as { id: string; total: number };
    runId = run.id;
    expect(run.total).toBe(CELLS);
    let p = { status: "running", done: 0, errors: 0 };
    while (p.status !== "done" && performance.now() - t0 < 240_000) {
      await new Promise((r) => setTimeout(r, 500));
      p = await (await fetch(`${gateway.url}/admin/campaigns/${run.id}`, { headers: admin })).json();
    }
    const seconds = (performance.now() - t0) / 1000;
    console.log(`edge campaign: ${CELLS} cells on the house model in ${seconds.toFixed(1)} s (wrangler dev)`);
    expect(p).toMatchObject({ status: "done", done: CELLS, errors: 0 });

    const edge: ResultRow[] = [];
    for (let cursor: string | null = "0"; cursor !== null;) {
      const page = (await (
        await fetch(`${gateway.url}/admin/campaigns/${run.id}/rows?limit=20&cursor=${cursor}`, {
          headers: admin,
        })
      ).json()) as { data: ResultRow[]; next_cursor: string | null };
      edge.push(...page.data);
      cursor = page.next_cursor;
    }
    expect(edge).toHaveLength(CELLS);
    expect(new Set(edge.map((r) => r.cell_key)).size).toBe(CELLS);

    const c = parseCampaign(JSON.stringify({ ...CAMPAIGN, target: { kind: "runner", url: runner.url } }));
    const records = new Records(join(mkdtempSync(join(tmpdir(), "edge-e2e-")), "records.db"));
    for await (const _ of runCampaign({
      campaign: c,
      client: new HttpClient({ kind: "runner", url: runner.url }),
      records,
      baseDir: root,
    }));
    const cli = new Map(records.rows(c.name).map((r) => [r.cell_key, r]));
    records.close();
    expect(cli.size).toBe(CELLS);
    for (const r of edge) {
      const x = cli.get(r.cell_key)!;
      expect([r.cell_key, r.metric, r.prompt_hash]).toEqual([x.cell_key, x.metric, x.prompt_hash]);
      if (r.metric === "ppl") expect(r.score!).toBeCloseTo(x.score!, 3);
      else expect([r.cell_key, r.score, r.output]).toEqual([x.cell_key, x.score, x.output]);
    }
  }, 600_000);

  it("is what the demo page's Robustness tab shows once published", async () => {
    expect(runId).not.toBe("");
    const pub = await fetch(`${gateway.url}/admin/campaigns/${runId}/published`, {
      method: "PUT",
      headers: admin,
      body: JSON.stringify({ published: true }),
    });
    expect(pub.status).toBe(200);
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const errors = pageErrors(page);
      await page.goto(gateway.url + "/");
      expect(await page.isVisible("#form")).toBe(true);
      await page.click('button[data-tab="robustness"]');
      expect(await page.isVisible("#form")).toBe(false);
      const frame = await (await page.waitForSelector("#robustness-report")).contentFrame();
      await frame!.waitForSelector("h1", { timeout: 30_000 });
      expect(await frame!.textContent("h1")).toBe(`Attack campaign “${runId}”`);
      expect(await frame!.$$eval("svg", (els) => els.length)).toBeGreaterThan(0);
      mkdirSync(join(root, "test-artifacts"), { recursive: true });
      await page.screenshot({ path: join(root, "test-artifacts/robustness.png"), fullPage: true });
      await page.click('button[data-tab="compare"]');
      expect(await page.isVisible("#form")).toBe(true);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 120_000);
});
