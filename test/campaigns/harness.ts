// What the campaign tests share: a MOCK queue producer that keeps the messages (so a test delivers them
// itself, as often and in what batches it likes), delivery of messages to the gateway's real queue
// handler (cloudflare:test's MessageBatch), a run's rows counted in the real D1, and a small campaign.
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import worker from "../../src/index";
import type { CellMessage } from "../../src/campaigns/start";
import { ADMIN, call, targets } from "../helpers";

export const CELLS_QUEUE = "house-campaign-cells";

/** A mock producer: sendBatch keeps the bodies instead of queueing them. */
export function mockQueue() {
  const sent: CellMessage[] = [];
  const queue = {
    async send(body: CellMessage) {
      sent.push(body);
    },
    async sendBatch(msgs: Iterable<{ body: CellMessage }>) {
      for (const m of msgs) sent.push(m.body);
    },
  };
  return { sent, env: { CAMPAIGN_QUEUE: queue } };
}

let seq = 0;

/** Delivers `bodies` as one batch to the worker's queue handler; returns which were acked and whether it threw. */
export async function deliver(
  bodies: CellMessage[],
  extra: Record<string, unknown> = {},
  queue = CELLS_QUEUE,
  attempts = 1,
) {
  const batch = createMessageBatch<CellMessage>(
    queue,
    bodies.map((body) => ({ id: `m${seq++}`, timestamp: new Date(), attempts, body })),
  );
  const ctx = createExecutionContext();
  let threw: Error | null = null;
  try {
    await worker.queue(batch, { ...env, ...extra } as never, ctx);
  } catch (e) {
    threw = e as Error;
  }
  const result = await getQueueResult(batch, ctx);
  return { threw, result };
}

export async function rowCount(run: string) {
  return (await env.DB.prepare(
    "SELECT COUNT(*) AS n, COUNT(DISTINCT cell_key) AS keys FROM attack_results WHERE campaign = ?",
  )
    .bind(run)
    .first<{ n: number; keys: number }>())!;
}

/** 3 cloze + 2 next-word + 1 perplexity items x (clean, charswap, drop-bos) x 2 variants = 36 cells. */
export function campaign(name: string) {
  return {
    name,
    variants: ["base", "massive-zero"],
    tasks: [
      { suite: "heldout-cloze", n: 3 },
      { suite: "heldout-next", n: 2 },
      { suite: "heldout-ppl", n: 1 },
    ],
    attacks: [{ id: "charswap", params: { rate: 0.2 } }, "drop-bos"],
    max_tokens: 4,
  };
}
export const CELLS = 36;

export const OK = targets({ name: "ok", url: "http://ok.runner" });

/** Starts a run through POST /admin/campaigns with the mock producer; returns its id and its messages. */
export async function startMocked(body: object, extra: Record<string, unknown> = {}) {
  const q = mockQueue();
  const res = await call("/admin/campaigns", { body, headers: ADMIN, env: { ...OK, ...q.env, ...extra } });
  const run = (await res.json()) as { id: string; total: number; status: string };
  return { res, run, sent: q.sent };
}
