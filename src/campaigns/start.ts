// Starting a run: the campaign's cells are expanded here (the runner pool gives the BOS string the prompt
// attacks need), the run is registered in D1 with its total, and every cell goes to the queue as one
// message. The consumer (consumer.ts) does the rest; the run ends when it has one row per cell.
import { campaignHash, type Campaign } from "../../attacks/campaign";
import type { Cell } from "../../attacks/types";
import type { JudgeId } from "../../attacks/tasks/generation";
import type { Bindings, Config } from "../env";
import { ApiError } from "../errors";
import { asApiError, poolClient } from "./client";
import { MAX_CELLS } from "./spec";
import { createRun, deleteRun, previousRun, type Run } from "./store";
import { edgeCells } from "./tasks";

/** One queue message: a cell of a run, with what judging it needs. */
export type CellMessage = { run: string; cell: Cell; judge?: JudgeId; max_tokens: number };

// Queues take at most 100 messages and 256 KB per sendBatch; a cell's message is a few KB at most.
const SEND_CHUNK = 50;

/** "quick@20261129T030000Z-1a2b": sortable by time, unique, and safe in a URL path. */
function runId(name: string, at: Date): string {
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  const rand = [...crypto.getRandomValues(new Uint8Array(2))].map((b) => b.toString(16).padStart(2, "0"));
  return `${name}@${stamp}-${rand.join("")}`;
}

export async function startRun(
  env: Bindings,
  cfg: Config,
  c: Campaign,
  opts: { startedBy: "admin" | "cron"; publish: boolean },
): Promise<Run> {
  const client = poolClient(env, cfg);
  const [bosToken, served] = await Promise.all([client.bosToken(), client.variants()]).catch((e) => {
    throw asApiError(e, "the campaign's cells need the runner's BOS token and variants");
  });
  const missing = c.variants.filter((v) => v.split("+").some((p) => !served.includes(p)));
  if (missing.length)
    throw new ApiError(
      422,
      `unknown variants ${missing.join(", ")}: the runners serve ${served.join(", ")}`,
      { param: "variants" },
    );
  const { cells, judges } = edgeCells(c, bosToken);
  if (cells.length > MAX_CELLS)
    throw new ApiError(
      413,
      `the campaign has ${cells.length} cells, over the gateway's ${MAX_CELLS}: set budget.max_cells, or split it`,
    );
  const now = new Date();
  const run: Run = {
    id: runId(c.name, now),
    campaign: c.name,
    model: cfg.model,
    config: JSON.stringify(c),
    total: cells.length,
    done: 0,
    errors: 0,
    status: cells.length ? "running" : "done",
    published: opts.publish ? 1 : 0,
    started_by: opts.startedBy,
    previous: await previousRun(env.DB, c.name, now.toISOString()),
    regressions: null,
    started_at: now.toISOString(),
    finished_at: cells.length ? null : now.toISOString(),
  };
  await createRun(env.DB, run, campaignHash(c));
  const messages = cells.map((cell) => ({
    body: {
      run: run.id,
      cell,
      judge: judges[cell.item.task],
      max_tokens: c.max_tokens,
    } satisfies CellMessage,
    contentType: "json" as const,
  }));
  try {
    for (let i = 0; i < messages.length; i += SEND_CHUNK)
      await env.CAMPAIGN_QUEUE.sendBatch(messages.slice(i, i + SEND_CHUNK));
  } catch (e) {
    // A run missing some of its messages would never end: it goes, and messages already sent find no run.
    await deleteRun(env.DB, run.id);
    throw new ApiError(
      503,
      `the queue refused the campaign's cells (${(e as Error).message}); start it again`,
    );
  }
  return run;
}
