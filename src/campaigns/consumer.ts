// The queue consumers. Cells: each message's cell is run through the runner pool, judged (attacks/cell.ts)
// and written (store.ts, at most once per cell); the messages of a batch run side by side. A message whose
// model call failed for a passing reason (no runner, a timeout) is not acked, and the batch then throws: the
// platform redelivers the messages not acked after wrangler.toml's retry_delay, up to max_retries, then
// sends them to the dead-letter queue. A refusal of the cell's input is an error row, as in the CLI.
// Dead letters: each becomes the error row of its cell, so a run always ends with one row per cell.
import { errorRow, judgeCell } from "../../attacks/cell";
import { config, type Bindings } from "../env";
import { poolClient, transient } from "./client";
import { finishRun } from "./finish";
import type { CellMessage } from "./start";
import { getRun, writeRow } from "./store";

export const DEAD_LETTERS = "house-campaign-cells-dlq";

async function record(env: Bindings, row: Parameters<typeof writeRow>[1]) {
  const run = await writeRow(env.DB, row);
  if (run) await finishRun(env.DB, run);
}

async function runCell(env: Bindings, m: CellMessage): Promise<void> {
  if (!(await getRun(env.DB, m.run))) return; // the run was pruned or deleted: nothing to write to
  const client = poolClient(env, config(env));
  const start = performance.now();
  let row;
  try {
    row = await judgeCell({ max_tokens: m.max_tokens }, m.run, client, m.judge, m.cell);
  } catch (e) {
    if (transient(e)) throw e;
    row = errorRow(m.run, m.judge, m.cell, e, performance.now() - start);
  }
  await record(env, row);
}

async function deadLetter(env: Bindings, m: CellMessage): Promise<void> {
  if (!(await getRun(env.DB, m.run))) return;
  const why =
    "gave up: the runner pool did not answer in the queue's max_retries deliveries (see the gateway's logs)";
  await record(env, errorRow(m.run, m.judge, m.cell, new Error(why), null));
}

export async function consume(batch: MessageBatch<CellMessage>, env: Bindings): Promise<void> {
  const dead = batch.queue === DEAD_LETTERS;
  const results = await Promise.allSettled(
    batch.messages.map(async (msg) => {
      await (dead ? deadLetter(env, msg.body) : runCell(env, msg.body));
      msg.ack();
    }),
  );
  const failed = results.flatMap((r) => (r.status === "rejected" ? [r.reason as Error] : []));
  if (failed.length)
    throw new Error(
      `${failed.length} of ${batch.messages.length} cells failed and will be redelivered: ${failed[0]?.message}`,
    );
}
