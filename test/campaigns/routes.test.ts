// The campaign routes in workerd (real D1, FAKE runner, MOCK queue producer): who may start and read what,
// bad campaign files answered 4xx with what to fix, rows paged, and the report in the CLI's three forms.
import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { ADMIN, call, newKey, targets } from "../helpers";
import { CELLS, campaign, deliver, mockQueue, OK, startMocked } from "./harness";

const enc = encodeURIComponent;

async function finishedRun(name: string, publish = false) {
  const { run, sent } = await startMocked({ campaign: campaign(name), publish });
  await deliver(sent, OK);
  return run.id;
}

describe("starting a campaign", () => {
  it("refuses an unauthenticated start, and a start with a plain API key, enqueueing nothing", async () => {
    const q = mockQueue();
    const anon = await call("/admin/campaigns", {
      body: { campaign: campaign("anon") },
      env: { ...OK, ...q.env },
    });
    expect(anon.status).toBe(401);
    const key = await newKey();
    const keyed = await call("/admin/campaigns", {
      body: { campaign: campaign("keyed") },
      headers: { authorization: `Bearer ${key}` },
      env: { ...OK, ...q.env },
    });
    expect(keyed.status).toBe(401);
    expect(q.sent).toHaveLength(0);
  });

  it("starts from the CLI's YAML file, whose target it ignores", async () => {
    const q = mockQueue();
    const yaml = `name: yaml-file
target: {kind: gateway, url: "http://127.0.0.1:8787"}
variants: [base]
tasks: [{suite: heldout-cloze, n: 4}]
attacks: [drop-bos]
`;
    const ok = await worker.fetch(
      new Request("http://gateway.test/admin/campaigns", {
        method: "POST",
        headers: { ...ADMIN, "content-type": "application/yaml" },
        body: yaml,
      }),
      { ...env, ...OK, ...q.env } as never,
      createExecutionContext(),
    );
    expect(ok.status).toBe(202);
    expect(((await ok.json()) as { total: number }).total).toBe(4 * 2);
    expect(q.sent).toHaveLength(8);
  });

  it("answers 422 naming the line and field of a bad campaign", async () => {
    const res = await call("/admin/campaigns", {
      body: { campaign: "name: bad\nvariants: [base]\ntasks:\n  - {suite: no-such-suite}\n" },
      headers: ADMIN,
      env: OK,
    });
    expect(res.status).toBe(422);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
      /campaign:5:\d+: tasks\.0/,
    );
  });

  it("refuses what the gateway cannot run (a JSONL file, an unknown variant) with what to do instead", async () => {
    const jsonl = await call("/admin/campaigns", {
      body: { campaign: { ...campaign("jsonl"), tasks: [{ jsonl: "arc.jsonl", name: "arc" }] } },
      headers: ADMIN,
      env: OK,
    });
    expect(jsonl.status).toBe(422);
    expect(await jsonl.text()).toMatch(/CLI/);
    const unknown = await call("/admin/campaigns", {
      body: { campaign: { ...campaign("unknown"), variants: ["base", "nope"] } },
      headers: ADMIN,
      env: OK,
    });
    expect(unknown.status).toBe(422);
    expect(await unknown.text()).toMatch(/unknown variants nope/);
    const both = await call("/admin/campaigns", {
      body: { campaign: campaign("x"), name: "x" },
      headers: ADMIN,
    });
    expect(both.status).toBe(400);
  });

  it("answers 503 when no runner can give the BOS token, enqueueing nothing", async () => {
    const q = mockQueue();
    const res = await call("/admin/campaigns", {
      body: { campaign: campaign("down") },
      headers: ADMIN,
      env: { ...targets({ name: "down", url: "http://down.start" }), ...q.env },
    });
    expect(res.status).toBe(503);
    expect(await res.text()).toMatch(/BOS token/);
    expect(q.sent).toHaveLength(0);
  });

  it("leaves no run behind when the queue refuses its cells", async () => {
    const broken = {
      async sendBatch() {
        throw new Error("queue unavailable");
      },
    }; // a MOCK producer that fails
    const res = await call("/admin/campaigns", {
      body: { campaign: campaign("unqueued") },
      headers: ADMIN,
      env: { ...OK, CAMPAIGN_QUEUE: broken },
    });
    expect(res.status).toBe(503);
    const list = (await (await call("/admin/campaigns?campaign=unqueued", { headers: ADMIN })).json()) as {
      data: unknown[];
    };
    expect(list.data).toEqual([]);
  });

  it("starts a stored campaign by name, and 404s an unknown name", async () => {
    const put = await call("/admin/stored-campaigns/stored", {
      method: "PUT",
      body: { campaign: campaign("stored") },
      headers: ADMIN,
      env: OK,
    });
    expect(put.status).toBe(200);
    const { res, run, sent } = await startMocked({ name: "stored" });
    expect(res.status).toBe(202);
    expect(run.total).toBe(CELLS);
    expect(sent).toHaveLength(CELLS);
    const missing = await call("/admin/campaigns", {
      body: { name: "nothing-stored" },
      headers: ADMIN,
      env: OK,
    });
    expect(missing.status).toBe(404);
  });
});

describe("reading a run", () => {
  it("pages through the rows: every row once, in write order", async () => {
    const id = await finishedRun("paged");
    const seen: string[] = [];
    let cursor = "0";
    for (let i = 0; i < 10 && cursor; i++) {
      const res = await call(`/admin/campaigns/${enc(id)}/rows?limit=10&cursor=${cursor}`, {
        headers: ADMIN,
      });
      const page = (await res.json()) as { data: { cell_key: string }[]; next_cursor: string | null };
      seen.push(...page.data.map((r) => r.cell_key));
      cursor = page.next_cursor ?? "";
    }
    expect(seen).toHaveLength(CELLS);
    expect(new Set(seen).size).toBe(CELLS);
    const bad = await call(`/admin/campaigns/${enc(id)}/rows?limit=-1`, { headers: ADMIN });
    expect(bad.status).toBe(400);
  });

  it("gives the report as HTML, Markdown and JSON, from the same summary", async () => {
    const id = await finishedRun("report");
    const json = (await (
      await call(`/admin/campaigns/${enc(id)}/report?format=json`, { headers: ADMIN })
    ).json()) as {
      rows: number;
      variants: string[];
      attacks: string[];
    };
    expect(json.rows).toBe(CELLS);
    expect(json.variants).toEqual(["base", "massive-zero"]);
    expect(json.attacks).toEqual(["clean", "charswap(rate=0.2)", "drop-bos"]);
    const md = await (await call(`/admin/campaigns/${enc(id)}/report?format=md`, { headers: ADMIN })).text();
    expect(md).toContain(`# Attack campaign "${id}"`);
    expect(md).toContain(`${CELLS} rows`);
    const html = await call(`/admin/campaigns/${enc(id)}/report`, { headers: ADMIN });
    expect(html.headers.get("content-type")).toMatch(/text\/html/);
    expect(await html.text()).toContain("<svg");
    const bad = await call(`/admin/campaigns/${enc(id)}/report?format=pdf`, { headers: ADMIN });
    expect(bad.status).toBe(400);
    expect((await call(`/admin/campaigns/nope/report`, { headers: ADMIN })).status).toBe(404);
  });
});

describe("published reports", () => {
  it("are readable by the demo tier and plain keys; unpublished ones are not", async () => {
    const hidden = await finishedRun("hidden");
    const shown = await finishedRun("shown", true);
    const key = await newKey();
    const callers: Record<string, string>[] = [{}, { authorization: `Bearer ${key}` }];
    for (const headers of callers) {
      expect((await call(`/v1/campaigns/${enc(hidden)}/report`, { headers })).status).toBe(404);
      expect((await call(`/v1/campaigns/${enc(shown)}/report?format=md`, { headers })).status).toBe(200);
      expect((await call(`/admin/campaigns/${enc(shown)}/report`, { headers })).status).toBe(401);
      expect((await call(`/admin/campaigns/${enc(shown)}/rows`, { headers })).status).toBe(401);
      const list = (await (await call("/v1/campaigns", { headers })).json()) as { data: { id: string }[] };
      expect(list.data.map((r) => r.id)).toContain(shown);
      expect(list.data.map((r) => r.id)).not.toContain(hidden);
    }
    // Unpublishing hides it again.
    await call(`/admin/campaigns/${enc(shown)}/published`, {
      method: "PUT",
      body: { published: false },
      headers: ADMIN,
    });
    expect((await call(`/v1/campaigns/${enc(shown)}/report`)).status).toBe(404);
  });

  it("the demo page's robustness tab shows the latest published report for the default model", async () => {
    const id = await finishedRun("demo-tab", true);
    const res = await call("/demo/robustness");
    expect(res.status).toBe(200);
    expect(await res.text()).toContain(`Attack campaign “${id}”`);
    const page = await (await call("/", { env: OK })).text();
    expect(page).toContain('data-tab="robustness"');
    expect(page).toContain("/demo/robustness");
  });
});
