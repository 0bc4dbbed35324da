// Re-judging from the records, without the model: generation rows keep their raw output, and the cases are
// rebuilt from the campaign (cells are a pure function of it), so the current judge versions can score old
// outputs again. The records stay append-only: re-judged rows are returned for the report, not written.
import { attackSpecs, type Campaign } from "./campaign";
import { expandCells } from "./cells";
import { loadTasks } from "./run";
import { JUDGES, type JudgeId } from "./tasks/generation";
import type { ResultRow } from "./types";

export function rejudge(c: Campaign, baseDir: string, rows: ResultRow[], variants: string[]): ResultRow[] {
  const tasks = loadTasks(c, baseDir);
  const judges = new Map(tasks.map((t) => [t.task, (t.judge ?? "exact") as JudgeId]));
  // Judges read a case's target and canary only, which no transform derives from the BOS string.
  const cells = expandCells(tasks, attackSpecs(c), variants, c.seeds, c.repeats, { bosToken: "" });
  const byKey = new Map(cells.map((cell) => [cell.key, cell]));
  return rows.map((r) => {
    const cell = byKey.get(r.cell_key);
    if (!cell || cell.item.kind !== "gen" || r.error || r.output === null) return r;
    const j = JUDGES[judges.get(cell.item.task) ?? "exact"];
    return { ...r, score: j.judge(cell.item, r.output), judge: j.version };
  });
}
