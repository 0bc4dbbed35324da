// A campaign's tasks as cases, with no file system: `read(path)` gives a file's text (path relative to the
// campaign file; null for the house model's held-out text). The CLI reads files (run.ts, loadTasks); the
// gateway's Worker has only the held-out text, bundled (src/campaigns/tasks.ts).
import type { Campaign } from "../campaign";
import type { TaskCases } from "../cells";
import { loadJsonl } from "./jsonl";
import { buildSuite } from "./suites";

export function buildTasks(c: Campaign, read: (path: string | null) => string): TaskCases[] {
  return c.tasks.map((t) => {
    if ("suite" in t) {
      const text = read(t.text ?? null);
      const judge = t.judge ?? (t.suite === "heldout-next" ? "exact" : undefined);
      const task =
        t.judge && t.suite === "heldout-next" && t.judge !== "exact" ? `${t.suite}/${t.judge}` : t.suite;
      const cases = buildSuite(t.suite, text, t.n, t.seed).map((x) => ({
        ...x,
        task,
        id: x.id.replace(t.suite, task),
      }));
      return { task, judge, cases };
    }
    const cases = loadJsonl(read(t.jsonl), t.name, t.fields);
    return { task: t.name, cases: t.n ? cases.slice(0, t.n) : cases };
  });
}
