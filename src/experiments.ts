// A/B experiments: sticky assignment by a hash of (user or key, experiment), never a random draw per request,
// so one user always gets the same arm, and arms split by their weights across many users.
// Experiments come from D1 (set with PUT /admin/experiments/:name) first, then the EXPERIMENTS variable.
import { TtlCache } from "./cache";
import type { Config, Experiment } from "./env";

// Rows of D1 change only through PUT /admin/experiments (which clears this isolate's copy at once); others
// see a change within 10 s.
const fromDb = new TtlCache<"d1", Experiment[]>(10_000, 1);

export function forgetExperiments() {
  fromDb.clear();
}

export async function listExperiments(
  db: D1Database,
  configured: Config["experiments"],
): Promise<(Experiment & { source: "d1" | "config" })[]> {
  const rows = await fromDb.getOr("d1", async () => {
    const { results } = await db
      .prepare("SELECT name, model, arms FROM experiments ORDER BY name")
      .all<{ name: string; model: string; arms: string }>();
    return results.map((r) => ({ name: r.name, model: r.model, arms: JSON.parse(r.arms) }));
  });
  const fromD1 = rows.map((e) => ({ ...e, source: "d1" as const }));
  const cfg = configured
    .filter((e) => !fromD1.some((d) => d.name === e.name))
    .map((e) => ({ ...e, source: "config" as const }));
  return [...fromD1, ...cfg];
}

export async function experimentFor(
  db: D1Database,
  configured: Config["experiments"],
  model: string,
): Promise<Experiment | null> {
  return (await listExperiments(db, configured)).find((e) => e.model === model) ?? null;
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
