// What happens once when a run has its last row: the regression check against the campaign's previous
// run (McNemar exact per task x attack x variant, Holm: attacks/regression.ts, as the CLI's
// --fail-on-regression), and for a stored campaign, pruning its runs to the newest `keep`.
// Safe to run twice (two consumers may both see the last row): the result is the same and written once.
import { regressions } from "../../attacks/regression";
import { allRows, getRun, prune, setRegressions, storedCampaign, type Run } from "./store";

export async function finishRun(db: D1Database, run: Run): Promise<void> {
  if (run.status !== "done" || run.regressions !== null) return;
  const previous = run.previous ? await getRun(db, run.previous) : null;
  const list = previous ? regressions(await allRows(db, previous.id), await allRows(db, run.id)) : [];
  await setRegressions(db, run.id, JSON.stringify(list));
  const stored = await storedCampaign(db, run.campaign);
  if (stored) await prune(db, run.campaign, stored.keep);
}
