// A campaign as the gateway accepts it: the CLI's own campaign file (attacks/campaign.ts), sent as YAML or
// as JSON, validated by the same schema with the same "line:col: path: message" errors. At the edge the
// target is the gateway's runner pool (a file's `target` is ignored, and may be left out), and what needs a
// file system or a long search before the first cell is refused with what to do instead.
import { CampaignError, parseCampaign, type Campaign } from "../../attacks/campaign";
import { ApiError } from "../errors";

/** Cells one run may enqueue (a queue message each); a bigger campaign is split or run from the CLI. */
export const MAX_CELLS = 20_000;

const POOL_TARGET = { kind: "runner", url: "http://runner-pool.invalid" } as const;

const unprocessable = (message: string, param: string | null = null) => new ApiError(422, message, { param });

/** YAML or JSON text of a campaign (JSON is YAML), or a parsed object; `where` names it in errors. */
export function edgeCampaign(source: string | object, where: string): Campaign {
  let text = typeof source === "string" ? source : JSON.stringify(source, null, 1);
  if (typeof source === "object" && !("target" in source))
    text = JSON.stringify({ ...source, target: POOL_TARGET }, null, 1);
  else if (typeof source === "string" && !/^target\s*:/m.test(source) && !/"target"\s*:/.test(source))
    text = `target: ${JSON.stringify(POOL_TARGET)}\n${source}`;
  let c: Campaign;
  try {
    c = parseCampaign(text, where);
  } catch (e) {
    if (e instanceof CampaignError) throw unprocessable(e.message);
    throw e;
  }
  for (const [i, t] of c.tasks.entries()) {
    if ("jsonl" in t)
      throw unprocessable(
        `tasks[${i}]: JSONL files are read from disk, which the gateway has not: run this campaign with the CLI (npm run attack -- FILE)`,
        `tasks.${i}.jsonl`,
      );
    if (t.text !== undefined)
      throw unprocessable(
        `tasks[${i}].text: the gateway has only the house model's held-out text; leave "text" out, or use the CLI`,
        `tasks.${i}.text`,
      );
  }
  if (c.k_sweep)
    throw unprocessable(
      "k_sweep registers variants on the runner first: run it with the CLI, or list registered variants",
      "k_sweep",
    );
  for (const a of c.attacks) {
    const id = typeof a === "string" ? a : a.id;
    if (id === "gcg" || id === "random-search")
      throw unprocessable(
        `attack "${id}" searches against the model before its cells exist: run it with the CLI`,
        "attacks",
      );
  }
  return { ...c, target: { ...c.target, ...POOL_TARGET } };
}
