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
