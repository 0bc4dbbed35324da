// A loader for lm-evaluation-harness-style JSONL multiple-choice files, so users bring ARC, BoolQ, PIQA or
// WinoGrande: one JSON object per line with a context, a list of choices and the gold index. Field names
// default to lm-eval's processed-doc names (query, choices, gold) and can be mapped; choices get lm-eval's
// target delimiter (" ") in front. A bad line throws with its line number and what to fix.
import type { Case } from "../types";

export type JsonlFields = { context?: string; choices?: string; gold?: string; id?: string };

export function loadJsonl(text: string, task: string, fields: JsonlFields = {}, delimiter = " "): Case[] {
  const f = { context: "query", choices: "choices", gold: "gold", ...fields };
  const out: Case[] = [];
  for (const [i, line] of text.split("\n").entries()) {
    if (line.trim() === "") continue;
    const where = `${task}: line ${i + 1}`;
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(line);
    } catch (e) {
      throw new Error(`${where} is not valid JSON (${(e as Error).message})`);
    }
    const context = doc[f.context];
    const choices = doc[f.choices];
    const gold =
      typeof doc[f.gold] === "string" && /^\d+$/.test(doc[f.gold] as string)
        ? Number(doc[f.gold])
        : doc[f.gold];
    if (typeof context !== "string")
      throw new Error(`${where}: "${f.context}" must be a string (map it with fields.context)`);
    if (!Array.isArray(choices) || choices.length < 2 || !choices.every((c) => typeof c === "string"))
      throw new Error(
        `${where}: "${f.choices}" must be a list of at least two strings (map it with fields.choices)`,
      );
    if (typeof gold !== "number" || !Number.isInteger(gold) || gold < 0 || gold >= choices.length)
      throw new Error(`${where}: "${f.gold}" must be an index into the choices, 0..${choices.length - 1}`);
    const id = f.id && doc[f.id] !== undefined ? String(doc[f.id]) : String(out.length);
    out.push({
      id: `${task}/${id}`,
      task,
      kind: "mc",
      prompt: context,
      choices: choices.map((c) => delimiter + c),
      gold,
      provenance: [],
    });
  }
  return out;
}
