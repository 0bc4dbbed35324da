// Attack campaigns at the edge (src/campaigns/). Admin: start a run (a campaign file as YAML, or JSON
// {campaign} or {name} of a stored one), list runs with their regression flag, one run's progress, its
// report (HTML, Markdown, JSON: the CLI's builders) and its rows (paged), publish a run, and the stored
// campaigns the cron trigger starts. Public (demo tier and keys): published reports only.
import * as z from "zod";
import type { Ctx } from "../env";
import { ApiError, invalid } from "../errors";
import { FORMATS, report, runView, type Format } from "../campaigns/report";
import { edgeCampaign } from "../campaigns/spec";
import { startRun } from "../campaigns/start";
import * as store from "../campaigns/store";
import { readBody } from "./request";

const Start = z.strictObject({
  campaign: z.union([z.string(), z.looseObject({})]).optional(), // YAML/JSON text, or the object
  name: z.string().optional(), // a stored campaign (PUT /admin/stored-campaigns/:name)
  publish: z.boolean().default(false), // readable by the demo tier and plain keys once done
});

const Stored = z.strictObject({
  campaign: z.union([z.string(), z.looseObject({})]),
  cron: z
    .string()
    .regex(/^\S+( \S+){4}$/, "a cron expression of 5 fields that wrangler.toml [triggers] crons lists")
    .nullable()
    .default(null),
  keep: z.int().min(1).max(100).default(5),
  publish: z.boolean().default(true),
});

const isYaml = (c: Ctx) => /yaml/i.test(c.req.header("content-type") ?? "");

function intQuery(c: Ctx, name: string, fallback: number, max: number): number {
  const v = Number(c.req.query(name) ?? fallback);
  if (!Number.isInteger(v) || v < 0 || v > max)
    throw invalid(`"${name}" must be a whole number from 0 to ${max}`, name);
  return v;
}

function format(c: Ctx): Format {
  const f = c.req.query("format") ?? "html";
  if (!(FORMATS as readonly string[]).includes(f))
    throw invalid(`"format" must be one of ${FORMATS.join(", ")}`, "format");
  return f as Format;
}

async function runOr404(c: Ctx, publishedOnly = false): Promise<store.Run> {
  const id = c.req.param("run") ?? "";
  const run = await store.getRun(c.env.DB, id);
  if (!run || (publishedOnly && (!run.published || run.status !== "done")))
    throw new ApiError(
      404,
      publishedOnly
        ? `no published report "${id}" (GET /v1/campaigns lists them)`
        : `no campaign run "${id}" (GET /admin/campaigns lists them)`,
    );
  return run;
}

export async function start(c: Ctx): Promise<Response> {
  let campaign;
  let publish = false;
  if (isYaml(c)) {
    campaign = edgeCampaign(new TextDecoder().decode(await c.req.arrayBuffer()), "body");
    publish = c.req.query("publish") === "true";
  } else {
    const b = await readBody(c, Start);
    if ((b.campaign === undefined) === (b.name === undefined))
      throw invalid(
        `send either "campaign" (the campaign file, as YAML text or an object) or "name" (a stored one)`,
      );
    publish = b.publish;
    if (b.campaign !== undefined) campaign = edgeCampaign(b.campaign, "campaign");
    else {
      const s = await store.storedCampaign(c.env.DB, b.name!);
      if (!s)
        throw new ApiError(404, `no stored campaign "${b.name}" (GET /admin/stored-campaigns lists them)`, {
          param: "name",
        });
      campaign = edgeCampaign(JSON.parse(s.config), `stored campaign ${s.name}`);
    }
  }
  const run = await startRun(c.env, c.var.config, campaign, { startedBy: "admin", publish });
  return c.json(runView(run), 202);
}

export async function list(c: Ctx): Promise<Response> {
  const runs = await store.listRuns(c.env.DB, {
    campaign: c.req.query("campaign"),
    limit: intQuery(c, "limit", 50, 500) || 50,
  });
  return c.json({ data: runs.map((r) => runView(r)) });
}

export async function progress(c: Ctx): Promise<Response> {
  return c.json(runView(await runOr404(c)));
}

export async function adminReport(c: Ctx): Promise<Response> {
  return report(c.env.DB, await runOr404(c), format(c));
}

export async function rows(c: Ctx): Promise<Response> {
  const run = await runOr404(c);
  const limit = intQuery(c, "limit", 100, 1000) || 100;
  const after = intQuery(c, "cursor", 0, Number.MAX_SAFE_INTEGER);
  const page = await store.rowPage(c.env.DB, run.id, after, limit);
  const next = page.length === limit ? String(page[page.length - 1].id) : null;
  return c.json({ data: page, next_cursor: next, total: run.total, done: run.done });
}

export async function publish(c: Ctx): Promise<Response> {
  const run = await runOr404(c);
  const b = await readBody(c, z.strictObject({ published: z.boolean() }));
  await store.setPublished(c.env.DB, run.id, b.published);
  return c.json(runView({ ...run, published: b.published ? 1 : 0 }));
}

export async function putStored(c: Ctx): Promise<Response> {
  const name = c.req.param("name") ?? "";
  const b = await readBody(c, Stored);
  const campaign = edgeCampaign(b.campaign, "campaign");
  if (campaign.name !== name)
    throw new ApiError(
      422,
      `the campaign's name is "${campaign.name}", the path's "${name}": make them equal`,
      { param: "campaign.name" },
    );
  const row = {
    name,
    config: JSON.stringify(campaign),
    cron: b.cron,
    keep: b.keep,
    publish: b.publish ? 1 : 0,
    updated_at: new Date().toISOString(),
  };
  await store.putStored(c.env.DB, row);
  return c.json({ ...row, config: campaign, publish: b.publish });
}

export async function listStored(c: Ctx): Promise<Response> {
  const all = await store.storedCampaigns(c.env.DB);
  return c.json({ data: all.map((s) => ({ ...s, config: JSON.parse(s.config), publish: s.publish === 1 })) });
}

export async function deleteStored(c: Ctx): Promise<Response> {
  const name = c.req.param("name") ?? "";
  if (!(await store.deleteStored(c.env.DB, name)))
    throw new ApiError(404, `no stored campaign "${name}" (GET /admin/stored-campaigns lists them)`);
  return c.json({ name, deleted: true });
}

// Public: published reports, for the demo tier and API keys.

export async function published(c: Ctx): Promise<Response> {
  const runs = await store.listRuns(c.env.DB, { publishedOnly: true, limit: 50 });
  return c.json({ data: runs.map((r) => runView(r, "/v1/campaigns")) });
}

export async function publishedReport(c: Ctx): Promise<Response> {
  return report(c.env.DB, await runOr404(c, true), format(c));
}

/** The demo page's robustness tab: the latest published report for the default model, as a page. */
export async function latestForDemo(c: Ctx): Promise<Response> {
  const [run] = await store.listRuns(c.env.DB, { publishedOnly: true, model: c.var.config.model, limit: 1 });
  if (run) return report(c.env.DB, run, "html");
  return c.html(
    `<!doctype html><meta charset="utf-8"><body style="font:14px system-ui,sans-serif;margin:2em"><p>No published robustness report for model <code>${c.var.config.model.replace(/[<>&"]/g, "")}</code> yet. An admin starts a campaign with <code>POST /admin/campaigns</code> and <code>"publish": true</code> (README, "Campaigns at the edge").</p></body>`,
  );
}
