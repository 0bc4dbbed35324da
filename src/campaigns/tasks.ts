// A campaign's cells at the edge: its tasks built from the house model's held-out text (bundled into the
// Worker as a text module, the file the CLI reads), attacked and crossed with variants by the attack
// module's own pure functions, so the gateway and the CLI give the same cells the same keys.
import heldout from "../../models/house/heldout.txt";
import { attackSpecs, type Campaign } from "../../attacks/campaign";
import { expandCells } from "../../attacks/cells";
import { buildTasks } from "../../attacks/tasks/load";
import type { JudgeId } from "../../attacks/tasks/generation";
import type { Cell } from "../../attacks/types";

export type EdgeCells = { cells: Cell[]; judges: Record<string, JudgeId | undefined> };

export function edgeCells(c: Campaign, bosToken: string): EdgeCells {
  const tasks = buildTasks(c, (path) => {
    if (path !== null) throw new Error(`the gateway cannot read ${path}`); // edgeCampaign refuses it first
    return heldout;
  });
  const cells = expandCells(tasks, attackSpecs(c), c.variants, c.seeds, c.repeats, { bosToken });
  return {
    cells: c.budget.max_cells ? cells.slice(0, c.budget.max_cells) : cells,
    judges: Object.fromEntries(tasks.map((t) => [t.task, t.judge])),
  };
}
