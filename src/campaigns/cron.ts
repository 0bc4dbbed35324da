// The cron trigger (wrangler.toml [triggers] crons): starts every stored campaign whose `cron` is the
// expression that fired, published when it is done if the stored campaign says so. One failing campaign
// does not stop the others; its error is logged.
import { config, type Bindings } from "../env";
import { edgeCampaign } from "./spec";
import { startRun } from "./start";
import { storedCampaigns, type Run } from "./store";

export async function runScheduled(cron: string, env: Bindings): Promise<Run[]> {
  const started: Run[] = [];
  for (const s of await storedCampaigns(env.DB, cron)) {
    try {
      const c = edgeCampaign(JSON.parse(s.config), `stored campaign ${s.name}`);
      started.push(await startRun(env, config(env), c, { startedBy: "cron", publish: s.publish === 1 }));
    } catch (e) {
      console.error(`cron ${cron}: stored campaign "${s.name}" did not start: ${(e as Error).message}`);
    }
  }
  return started;
}
