// A/B experiments: sticky assignment by a hash of (user or key, experiment), never a random draw per request,
// so one user always gets the same arm, and arms split by their weights across many users.
// Experiments come from D1 (set with PUT /admin/experiments/:name) first, then the EXPERIMENTS variable.
import type { Ctx, Experiment } from "./env";

const TTL_MS = 10_000;
let fromDb: { at: number; rows: Experiment[] } | null = null;

export function forgetExperiments() {
  fromDb = null;
}

export async function listExperiments(c: Ctx): Promise<(Experiment & { source: "d1" | "config" })[]> {
  if (!fromDb || Date.now() - fromDb.at > TTL_MS) {
    const { results } = await c.env.DB.prepare(
      "SELECT name, model, arms FROM experiments ORDER BY name",
    ).all<{
      name: string;
      model: string;
      arms: string;
    }>();
    fromDb = {
      at: Date.now(),
      rows: results.map((r) => ({ name: r.name, model: r.model, arms: JSON.parse(r.arms) })),
    };
  }
  const db = fromDb.rows.map((e) => ({ ...e, source: "d1" as const }));
  const cfg = c.var.config.experiments
    .filter((e) => !db.some((d) => d.name === e.name))
    .map((e) => ({ ...e, source: "config" as const }));
  return [...db, ...cfg];
}

export async function experimentFor(c: Ctx, model: string): Promise<Experiment | null> {
  return (await listExperiments(c)).find((e) => e.model === model) ?? null;
}

/** The arm for `user` in `experiment`: a point in [0, 1) from sha256(experiment \0 user), then the weights. */
export async function assignArm(experiment: Experiment, user: string): Promise<string> {
  const data = new TextEncoder().encode(`${experiment.name}\u0000${user}`);
  const digest = new DataView(await crypto.subtle.digest("SHA-256", data));
  const point = digest.getUint32(0) / 2 ** 32;
  const arms = Object.entries(experiment.arms).sort(([a], [b]) => (a < b ? -1 : 1));
  const total = arms.reduce((s, [, w]) => s + w, 0);
  let edge = 0;
  for (const [variant, weight] of arms) {
    edge += weight / total;
    if (point < edge) return variant;
  }
  return arms.filter(([, w]) => w > 0).at(-1)![0];
}
