// A run's report in the CLI's three forms (attacks/summary.ts and attacks/report/: one builder for both),
// computed from its D1 rows, with the regression check against the previous run when it is done.
import type { Campaign } from "../../attacks/campaign";
import type { Regression } from "../../attacks/regression";
import { html } from "../../attacks/report/html";
import { markdown } from "../../attacks/report/markdown";
import type { ReportMeta } from "../../attacks/report/format";
import { summarise } from "../../attacks/summary";
import { allRows, type Run } from "./store";

export const FORMATS = ["html", "md", "json"] as const;
export type Format = (typeof FORMATS)[number];

export function meta(run: Run): ReportMeta {
  const seconds = run.finished_at
    ? (Date.parse(run.finished_at) - Date.parse(run.started_at)) / 1000
    : undefined;
  const list = run.regressions ? (JSON.parse(run.regressions) as Regression[]) : null;
  return {
    seconds,
    target: `gateway model ${run.model} (runner pool), ${run.status}: ${run.done}/${run.total} cells`,
    regression: run.previous && list ? { against: run.previous, list } : undefined,
  };
}

export async function report(db: D1Database, run: Run, format: Format): Promise<Response> {
  const c = JSON.parse(run.config) as Campaign;
  const s = summarise(run.id, await allRows(db, run.id), c.baseline_variant);
  const m = meta(run);
  if (format === "json") return Response.json({ ...s, meta: m, run: runView(run) });
  if (format === "md")
    return new Response(markdown(s, m), { headers: { "content-type": "text/markdown; charset=utf-8" } });
  return new Response(html(s, m), { headers: { "content-type": "text/html; charset=utf-8" } });
}

/** A run as the API shows it: its counts, whether it regressed against the previous run, and links. */
export function runView(run: Run, base = "/admin/campaigns") {
  const list = run.regressions ? (JSON.parse(run.regressions) as Regression[]) : null;
  return {
    id: run.id,
    campaign: run.campaign,
    model: run.model,
    status: run.status,
    total: run.total,
    done: run.done,
    errors: run.errors,
    published: run.published === 1,
    started_by: run.started_by,
    started_at: run.started_at,
    finished_at: run.finished_at,
    previous: run.previous,
    regression: list === null || !run.previous ? null : list.length > 0, // null: not done, or nothing before it
    regressions: list ?? [],
    report: `${base}/${run.id}/report`, // run ids need no escaping: [A-Za-z0-9._-@]
    ...(base === "/admin/campaigns" ? { rows: `${base}/${run.id}/rows` } : {}),
  };
}
