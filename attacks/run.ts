// Runs a campaign: loads its tasks, registers its k-sweep variants, expands the cells, skips those already
// recorded (--resume), and works through the rest with `concurrency` workers. Each worker writes its
// cell's row (synchronously, to SQLite) before it takes the next cell: a killed run loses at most the cells
// in flight, and none is written twice. Yields events; the CLI draws them, tests count them.
import { readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { adaptiveCases } from "./adaptive/campaign";
import { attackSpecs, campaignHash, type Campaign } from "./campaign";
import { expandCells, type TaskCases } from "./cells";
import type { ModelClient } from "./client";
import type { Records } from "./records";
import { errorRow, judgeCell } from "./cell";
import { buildTasks } from "./tasks/load";
import type { ResultRow } from "./types";

export const HOUSE_HELDOUT = resolve(import.meta.dirname, "../models/house/heldout.txt");

export type RunEvent =
  | { type: "prepare"; message: string }
  | { type: "plan"; total: number; done: number; todo: number; variants: string[] }
  | { type: "row"; row: ResultRow }
  | { type: "end"; written: number; errors: number; stopped: string | null; seconds: number };

export function loadTasks(c: Campaign, baseDir: string): TaskCases[] {
  const rel = (p: string) => (isAbsolute(p) ? p : join(baseDir, p));
  return buildTasks(c, (p) => readFileSync(p === null ? HOUSE_HELDOUT : rel(p), "utf8"));
}

/** Registers `zero-k<k>` (or `retain-k<k>`) for each k: the top-k massive rows of the massive layer. */
export async function kSweepVariants(c: Campaign, client: ModelClient): Promise<string[]> {
  if (!c.k_sweep) return [];
  const { ks, mode } = c.k_sweep;
  const m = await client.massive(Math.max(...ks));
  if (m.layer === null)
    throw new Error("k_sweep: the model has no massive layer (GET /v1/massive found none)");
  const names: string[] = [];
  for (const k of ks) {
    const name = `${mode}-k${k}`;
    await client.registerVariant({
      name,
      ffn_mask: { layer: m.layer, indices: m.indices.slice(0, k), mode },
    });
    names.push(name);
  }
  return names;
}

export async function* runCampaign(opts: {
  campaign: Campaign;
  client: ModelClient;
  records: Records;
  baseDir: string;
  resume?: boolean;
}): AsyncGenerator<RunEvent> {
  const { campaign: c, client, records } = opts;
  const t0 = Date.now();
  const tasks = loadTasks(c, opts.baseDir);
  const judges = new Map(tasks.map((t) => [t.task, t.judge]));
  const variants = [...c.variants, ...(await kSweepVariants(c, client))];
  // A gateway caches the runner's variant list (15 s): wait until the freshly registered ones show.
  let known = await client.variants();
  const absent = () => variants.filter((v) => v.split("+").some((p) => !known.includes(p)));
  for (let i = 0; c.k_sweep && absent().length && i < 30; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    known = await client.variants();
  }
  const missing = absent();
  if (missing.length)
    throw new Error(`unknown variants ${missing.join(", ")}; the target serves ${known.join(", ")}`);
  const specs = attackSpecs(c);
  const notes: string[] = [];
  const adaptive = await adaptiveCases(c, client, tasks, specs, (m) => notes.push(m));
  if (notes.length) yield { type: "prepare", message: `adaptive attacks: ${notes.length} searches done` };
  const bosToken = await client.bosToken();
  const cells = expandCells(tasks, specs, variants, c.seeds, c.repeats, { bosToken }, adaptive);
  const capped = c.budget.max_cells ? cells.slice(0, c.budget.max_cells) : cells;
  // Registered only once the campaign is known to run (its tasks load, its variants exist).
  records.open(
    c.name,
    campaignHash(c),
    { ...c, target: { ...c.target, key: undefined, admin: undefined } },
    !!opts.resume,
  );
  const done = records.doneKeys(c.name);
  const todo = capped.filter((cell) => !done.has(cell.key));
  yield {
    type: "plan",
    total: capped.length,
    done: capped.length - todo.length,
    todo: todo.length,
    variants,
  };

  const out: ResultRow[] = [];
  let wake: (() => void) | null = null;
  let next = 0;
  let stopped: string | null =
    cells.length > capped.length ? `budget: max_cells ${c.budget.max_cells} of ${cells.length}` : null;
  const deadline = c.budget.max_seconds ? t0 + c.budget.max_seconds * 1000 : Infinity;
  let errors = 0;
  const worker = async () => {
    while (next < todo.length) {
      if (Date.now() > deadline) {
        stopped = `budget: max_seconds ${c.budget.max_seconds}`;
        return;
      }
      const cell = todo[next++];
      const start = performance.now();
      const judge = judges.get(cell.item.task);
      let row: ResultRow;
      try {
        row = await judgeCell(c, c.name, client, judge, cell);
      } catch (e) {
        errors++;
        row = errorRow(c.name, judge, cell, e, performance.now() - start);
      }
      records.write(row); // before this worker takes its next cell
      out.push(row);
      wake?.();
    }
  };
  let running = Math.min(c.concurrency, todo.length);
  const all = Array.from({ length: running }, () => worker().finally(() => (running--, wake?.())));
  while (running > 0 || out.length) {
    if (!out.length) await new Promise<void>((r) => (wake = r));
    wake = null;
    while (out.length) yield { type: "row", row: out.shift()! };
  }
  await Promise.all(all);
  yield {
    type: "end",
    written: next, // every cell taken was written (an error is a row too)
    errors,
    stopped,
    seconds: (Date.now() - t0) / 1000,
  };
}
