// One cell, run and judged: the row it leaves behind. `judgeCell` throws when the model could not be asked
// (the caller decides: the CLI records an error row at once; the gateway's queue consumer retries a
// transient failure and records an error row for a refusal); `errorRow` is that row. Shared by the CLI's
// run.ts and the Worker's queue consumer (src/campaigns/consumer.ts), so both write the same rows.
import type { Campaign } from "./campaign";
import type { ModelClient } from "./client";
import { sha256 } from "./rng";
import { scoreGeneration, type JudgeId } from "./tasks/generation";
import { scoreMc } from "./tasks/mc";
import { scorePerplexity } from "./tasks/perplexity";
import type { Cell, ResultRow } from "./types";

type Base = Omit<ResultRow, "output" | "score" | "metric" | "judge" | "raw" | "error" | "latency_ms">;

function base(campaign: string, cell: Cell): Base {
  return {
    campaign,
    cell_key: cell.key,
    case_id: cell.item.id,
    task: cell.item.task,
    attack: cell.attack,
    variant: cell.variant,
    seed: cell.seed,
    repeat: cell.repeat,
    prompt_hash: sha256(cell.item.prompt + (cell.item.addBos === false ? "\u0000nobos" : "")),
    ts: new Date().toISOString(),
  };
}

const metricOf = (cell: Cell, judge: JudgeId | undefined) =>
  cell.item.kind === "mc" ? "acc" : cell.item.kind === "ppl" ? "ppl" : (judge ?? "exact");

async function score(
  c: Pick<Campaign, "max_tokens">,
  client: ModelClient,
  judge: JudgeId | undefined,
  cell: Cell,
) {
  const item = cell.item;
  if (item.kind === "mc") return { ...(await scoreMc(client, cell.variant, item)), judge: null };
  if (item.kind === "ppl") return { ...(await scorePerplexity(client, cell.variant, item)), judge: null };
  const j = judge ?? "exact";
  return await scoreGeneration(client, cell.variant, item, j, c.max_tokens, cell.seed + cell.repeat);
}

/** The judged row of `cell` under `campaign` (the row's campaign column); throws if the model failed. */
export async function judgeCell(
  c: Pick<Campaign, "max_tokens">,
  campaign: string,
  client: ModelClient,
  judge: JudgeId | undefined,
  cell: Cell,
): Promise<ResultRow> {
  const start = performance.now();
  const b = base(campaign, cell);
  const r = await score(c, client, judge, cell);
  return {
    ...b,
    output: r.output,
    score: r.score,
    metric: metricOf(cell, judge),
    judge: r.judge,
    raw: JSON.stringify(r.raw),
    error: null,
    latency_ms: performance.now() - start,
  };
}

/** The row of a cell that failed: no score, the reason kept (an error row counts as not resisted). */
export function errorRow(
  campaign: string,
  judge: JudgeId | undefined,
  cell: Cell,
  e: unknown,
  latencyMs: number | null,
): ResultRow {
  return {
    ...base(campaign, cell),
    output: null,
    score: null,
    metric: metricOf(cell, judge),
    judge: null,
    raw: null,
    error: ((e as Error)?.message ?? String(e)).slice(0, 1000),
    latency_ms: latencyMs,
  };
}
