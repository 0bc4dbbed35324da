// The attack CLI: `npm run attack -- CAMPAIGN.yaml [options]` runs a campaign with a progress bar, then
// writes report.md, report.json and report.html next to its SQLite records and prints where they are.
//   --resume                     continue a killed run (refuses a changed campaign)
//   --url URL --kind gateway|runner --model NAME --key KEY --admin-url URL   override the campaign's target
//   --out DIR                    output folder (default: the campaign's "out", else runs/attacks/<name>)
//   --fail-on-regression DIR|DB  exit 3 when a variant is significantly worse than in that earlier run
//   --report-only                rebuild the reports from the records without calling the model
//   --rejudge                    score the recorded generation outputs again with the current judges (report only)
// Exit codes: 0 done, 1 bad input or a failed run, 2 stopped by the budget, 3 regression.
import { SingleBar, Presets } from "cli-progress";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { parseCampaign, type Campaign } from "./campaign";
import { HttpClient, type Target } from "./client";
import { Records } from "./records";
import { regressions } from "./regression";
import { rejudge } from "./rejudge";
import { html } from "./report/html";
import { markdown } from "./report/markdown";
import { runCampaign } from "./run";
import { summarise } from "./summary";

const ROOT = resolve(import.meta.dirname, "..");

/** ADMIN_TOKEN from .dev.vars, which `npm start` writes and gives to both the gateway and the runner. */
function devAdminToken(field: string): string {
  const vars = join(ROOT, ".dev.vars");
  const token = existsSync(vars)
    ? /^ADMIN_TOKEN=(.*)$/m.exec(readFileSync(vars, "utf8"))?.[1]?.trim()
    : undefined;
  if (!token)
    throw new Error(`${field} "auto" needs ADMIN_TOKEN in ${vars} (npm start writes it); or give "env:NAME"`);
  return token;
}

/** A secret as the campaign gives it: a literal, "env:NAME", or "auto" (.dev.vars). */
function secret(value: string, field: string): string {
  if (value === "auto") return devAdminToken(field);
  if (!value.startsWith("env:")) return value;
  const v = process.env[value.slice(4)];
  if (!v) throw new Error(`${field} says ${value}, but ${value.slice(4)} is not set`);
  return v;
}

async function resolveKey(c: Campaign): Promise<string | undefined> {
  const k = c.target.key;
  if (k === undefined) return undefined;
  if (k !== "auto") return secret(k, "target.key");
  if (c.target.kind === "runner") return undefined; // a local runner (npm start's) needs no API token
  // "auto": a gateway started by `npm start` keeps its admin token in .dev.vars; make an API key with it.
  const admin = devAdminToken("target.key");
  const res = await fetch(c.target.url.replace(/\/$/, "") + "/admin/keys", {
    method: "POST",
    headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    body: JSON.stringify({ name: `attack-${c.name}` }),
  });
  if (!res.ok)
    throw new Error(
      `could not create an API key at ${c.target.url}/admin/keys: ${res.status} ${await res.text()}`,
    );
  return ((await res.json()) as { key: string }).key;
}

function baselineRows(path: string, campaign: string) {
  const file = existsSync(path) && statSync(path).isDirectory() ? join(path, "records.db") : path;
  if (!existsSync(file)) throw new Error(`--fail-on-regression: no records at ${file}`);
  const r = new Records(file);
  try {
    return r.rows(campaign);
  } finally {
    r.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      resume: { type: "boolean" },
      url: { type: "string" },
      "admin-url": { type: "string" },
      kind: { type: "string" },
      model: { type: "string" },
      key: { type: "string" },
      out: { type: "string" },
      "fail-on-regression": { type: "string" },
      "report-only": { type: "boolean" },
      rejudge: { type: "boolean" },
      quiet: { type: "boolean" },
    },
  });
  if (positionals.length !== 1)
    throw new Error(
      "usage: npm run attack -- CAMPAIGN.yaml [--resume] [--url URL] [--out DIR] [--fail-on-regression DIR]",
    );
  const file = resolve(positionals[0]);
  const c = parseCampaign(readFileSync(file, "utf8"), positionals[0]);
  if (values.url) c.target.url = values.url;
  if (values.kind === "gateway" || values.kind === "runner") c.target.kind = values.kind;
  else if (values.kind) throw new Error(`--kind must be gateway or runner`);
  if (values.model) c.target.model = values.model;
  // A runner target is its own admin route unless told otherwise: --kind runner --url X is one override.
  const adminUrl = values["admin-url"] ?? (values.url && c.target.kind === "runner" ? values.url : undefined);
  if (adminUrl && c.target.admin) c.target.admin.url = adminUrl;
  if (values.key) c.target.key = values.key;
  const out = resolve(
    values.out ?? (c.out ? join(dirname(file), c.out) : join(ROOT, "runs/attacks", c.name)),
  );
  mkdirSync(out, { recursive: true });
  const records = new Records(join(out, "records.db"));
  let seconds: number | undefined;
  let stopped: string | null = null;
  try {
    if (!values["report-only"]) {
      const key = await resolveKey(c);
      const target: Target = {
        kind: c.target.kind,
        url: c.target.url,
        key,
        model: c.target.model,
        admin: c.target.admin
          ? {
              url: c.target.admin.url ?? c.target.url,
              token: secret(c.target.admin.token, "target.admin.token"),
            }
          : undefined,
        rate: c.target.rate,
        timeoutMs: c.target.timeout_s * 1000,
      };
      const bar = new SingleBar(
        {
          format: "attack |{bar}| {value}/{total} cells | {errors} errors | ETA {eta_formatted}",
          noTTYOutput: !values.quiet,
          notTTYSchedule: 5000,
        },
        Presets.shades_classic,
      );
      let errors = 0;
      for await (const ev of runCampaign({
        campaign: c,
        client: new HttpClient(target),
        records,
        baseDir: dirname(file),
        resume: values.resume,
      })) {
        if (ev.type === "prepare") console.log(`attack: ${ev.message}`);
        else if (ev.type === "plan") {
          console.log(
            `attack: "${c.name}" -> ${c.target.kind} ${c.target.url}: ${ev.total} cells (${ev.done} already recorded, ${ev.todo} to run), variants ${ev.variants.join(", ")}`,
          );
          if (!values.quiet) bar.start(ev.total, ev.done, { errors });
        } else if (ev.type === "row") {
          if (ev.row.error) errors++;
          if (!values.quiet) bar.increment({ errors });
        } else {
          if (!values.quiet) bar.stop();
          seconds = ev.seconds;
          stopped = ev.stopped;
          console.log(
            `attack: ${ev.written} cells written in ${ev.seconds.toFixed(1)} s, ${ev.errors} errors${ev.stopped ? `; stopped by ${ev.stopped} (--resume continues)` : ""}`,
          );
        }
      }
    }
    const recorded = records.rows(c.name);
    const rows = values.rejudge
      ? rejudge(c, dirname(file), recorded, [...new Set(recorded.map((r) => r.variant))])
      : recorded;
    const s = summarise(c.name, rows, c.baseline_variant);
    const meta = { seconds, target: `${c.target.kind} ${c.target.url}` };
    writeFileSync(join(out, "report.md"), markdown(s, meta));
    writeFileSync(join(out, "report.json"), JSON.stringify({ ...s, meta }, null, 1));
    writeFileSync(join(out, "report.html"), html(s, meta));
    console.log("\n" + markdown(s, meta).split("\n## Variants")[0]);
    console.log(
      `attack: report in ${join(out, "report.html")} (also report.md, report.json; records in ${join(out, "records.db")})`,
    );
    if (values["fail-on-regression"]) {
      const bad = regressions(baselineRows(values["fail-on-regression"], c.name), rows);
      for (const r of bad)
        console.error(
          `regression: ${r.variant} under ${r.attack} on ${r.task}: ${r.lost} items lost, ${r.gained} gained (McNemar p ${r.p.toPrecision(3)}, Holm ${r.p_holm.toPrecision(3)})`,
        );
      if (bad.length) return 3;
      console.log("attack: no significant regression against the baseline");
    }
    return stopped ? 2 : 0;
  } finally {
    records.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    console.error(`attack: ${(e as Error).message}`);
    process.exit(1);
  },
);
