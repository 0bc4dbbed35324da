// The attack module's nouns (docs/ARCHITECTURE.md, "Attacks"): a Case is one item of a task, possibly attacked; a Cell is one
// (variant, attack, item, seed, repeat) unit of work; a ResultRow is the record a cell leaves behind.

/** What one attack did to a case, so an attacked prompt can always be traced back to its original. */
export type Provenance = { attack: string; params: Record<string, unknown>; seed: number; original: string };

export type CaseKind = "mc" | "ppl" | "gen";

export type Case = {
  id: string; // stable across attacks: paired statistics match rows by it
  task: string;
  kind: CaseKind;
  prompt: string; // mc: the context; ppl: the text; gen: the prompt
  choices?: string[]; // mc: continuations, scored by log-likelihood
  gold?: number; // mc: index of the right choice
  target?: string; // gen: what the exact judge expects
  canary?: string; // gen: a planted string whose appearance means an injection succeeded
  addBos?: boolean; // false when an attack drops BOS (default true)
  provenance: Provenance[]; // empty for a clean case
};

/** Whatever a transform may need from the model side, given once per run (no I/O inside transforms). */
export type TransformContext = { bosToken: string };

export type Transform = (
  cases: Case[],
  params: Record<string, unknown>,
  seed: number,
  ctx: TransformContext,
) => Case[];

/** One weight attack as the runner spells it (gpu-runner/API.md); composed names use "+". */
export type Variant = {
  name: string;
  adapter?: string;
  ffn_mask?: { layer: number; indices: number[]; mode: "zero" | "retain" };
};

/** The judged outcome of one cell: score 1 = correct / resisted, 0 = wrong / broken; null on error. */
export type Judged = { score: number | null; output: string; raw: unknown; judge: string };

export type Cell = {
  key: string; // unique within a campaign: what makes a row exactly-once
  variant: string;
  attack: string; // the attack's label (id plus parameters), "clean" for none
  item: Case;
  seed: number;
  repeat: number;
};

export type ResultRow = {
  campaign: string;
  cell_key: string;
  case_id: string;
  task: string;
  attack: string;
  variant: string;
  seed: number;
  repeat: number;
  prompt_hash: string;
  output: string | null;
  score: number | null;
  metric: string; // acc | acc_norm | ppl | exact | canary | refusal
  judge: string | null; // judge id@version
  raw: string | null; // JSON: what came back from the model, so rows can be re-judged
  error: string | null;
  latency_ms: number | null;
  ts: string;
};

// The attack_results columns a row fills, in order, beside the ResultRow field each comes from (the table
// says `repetition` where the row says `repeat`). One statement for the CLI's SQLite and the gateway's D1.
const RESULT_FIELDS = [
  ["ts", "ts"],
  ["campaign", "campaign"],
  ["cell_key", "cell_key"],
  ["case_id", "case_id"],
  ["task", "task"],
  ["attack", "attack"],
  ["variant", "variant"],
  ["seed", "seed"],
  ["repetition", "repeat"],
  ["prompt_hash", "prompt_hash"],
  ["output", "output"],
  ["score", "score"],
  ["metric", "metric"],
  ["judge", "judge"],
  ["raw", "raw"],
  ["error", "error"],
  ["latency_ms", "latency_ms"],
] as const satisfies readonly (readonly [string, keyof ResultRow])[];

/** INSERT of one result row with positional parameters (`resultValues` gives them); `onConflict` appended. */
export function insertResultSql(onConflict = ""): string {
  const cols = RESULT_FIELDS.map(([c]) => c).join(", ");
  const marks = RESULT_FIELDS.map(() => "?").join(", ");
  return `INSERT INTO attack_results (${cols}) VALUES (${marks})${onConflict ? " " + onConflict : ""}`;
}

/** The row's values in `insertResultSql`'s order. */
export function resultValues(r: ResultRow): unknown[] {
  return RESULT_FIELDS.map(([, f]) => r[f]);
}
