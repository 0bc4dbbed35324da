// A campaign file (YAML) and its schema (zod): the target, the variants (weight attacks), the tasks, the
// prompt attacks with parameters, seeds, repeats, concurrency and a budget. Errors name the line and
// column of the offending value. The hash of the validated campaign (without secrets) guards --resume.
import { LineCounter, isNode, parseDocument } from "yaml";
import { z } from "zod";
import { sha256 } from "./rng";
import { ADAPTIVE, TRANSFORMS } from "./index";
import { SUITES } from "./tasks/suites";

const name = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._+-]{0,127}$/, "lower-case letters, digits, . _ + - (a variant name)");

const Task = z.union([
  z.strictObject({
    suite: z.enum(SUITES),
    n: z.int().min(1).max(10_000).default(20),
    seed: z.int().min(0).default(0),
    judge: z.enum(["exact", "canary", "refusal"]).optional(),
    text: z.string().optional(), // held-out text file, relative to the campaign file (default: the house model's)
  }),
  z.strictObject({
    jsonl: z.string(), // lm-eval-style JSONL file, relative to the campaign file
    name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/),
    n: z.int().min(1).optional(),
    fields: z
      .strictObject({ context: z.string(), choices: z.string(), gold: z.string(), id: z.string() })
      .partial()
      .optional(),
  }),
]);

const ATTACK_IDS = [...Object.keys(TRANSFORMS), ...Object.keys(ADAPTIVE)] as [AttackId, ...AttackId[]];
type AttackId = keyof typeof TRANSFORMS | keyof typeof ADAPTIVE;

const Attack = z.union([
  z.enum(ATTACK_IDS),
  z.strictObject({
    id: z.enum(ATTACK_IDS),
    params: z.record(z.string(), z.unknown()).default({}),
    label: z.string().optional(), // how reports name it (default: id and parameters)
  }),
]);

export const CampaignSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "letters, digits, . _ -"),
  target: z.strictObject({
    kind: z.enum(["gateway", "runner"]),
    url: z.url(),
    key: z.string().optional(), // API key or runner token: a literal, "env:NAME", or "auto" (gateway: make one with the admin token in .dev.vars)
    model: z.string().default("house"), // the gateway's model name
    // The runner's admin route, for k sweeps: url (default: target.url), token (literal, "env:NAME", or
    // "auto": ADMIN_TOKEN from .dev.vars, which `npm start` gives the runner too).
    admin: z.strictObject({ url: z.url().optional(), token: z.string() }).optional(),
    rate: z.number().min(0).default(0), // requests per second to this target (0: unlimited)
    timeout_s: z.number().positive().default(120),
  }),
  variants: z.array(name).min(1),
  k_sweep: z
    .strictObject({
      ks: z.array(z.int().min(1).max(64)).min(1),
      mode: z.enum(["zero", "retain"]).default("zero"),
    })
    .optional(),
  tasks: z.array(Task).min(1),
  attacks: z.array(Attack).default([]),
  seeds: z.array(z.int().min(0)).min(1).default([0]),
  repeats: z.int().min(1).max(100).default(1),
  concurrency: z.int().min(1).max(256).default(4),
  max_tokens: z.int().min(1).max(512).default(6),
  budget: z
    .strictObject({ max_cells: z.int().min(1).optional(), max_seconds: z.number().positive().optional() })
    .default({}),
  baseline_variant: name.default("base"), // what McNemar compares every other variant with
  out: z.string().optional(), // output folder, relative to the campaign file (default: runs/attacks/<name>)
});
export type Campaign = z.infer<typeof CampaignSchema>;

export class CampaignError extends Error {}

/** Parses and validates; every problem is reported as "FILE:LINE:COL: path: message". */
export function parseCampaign(source: string, file = "campaign.yaml"): Campaign {
  const lc = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lc, prettyErrors: false });
  if (doc.errors.length) {
    const e = doc.errors[0];
    const at = lc.linePos(e.pos[0]);
    throw new CampaignError(`${file}:${at.line}:${at.col}: YAML: ${e.message.split("\n")[0]}`);
  }
  const result = CampaignSchema.safeParse(doc.toJS());
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    let path = [...issue.path] as (string | number)[];
    let node: unknown = undefined;
    while (path.length && !isNode((node = doc.getIn(path, true)))) path = path.slice(0, -1);
    if (!path.length) node = doc.contents;
    const range = isNode(node) ? node.range : undefined;
    const at = range ? lc.linePos(range[0]) : { line: 1, col: 1 };
    return `${file}:${at.line}:${at.col}: ${issue.path.join(".") || "(top)"}: ${issue.message}`;
  });
  throw new CampaignError(lines.join("\n"));
}

/** What --resume checks: the campaign minus secrets and the output folder. */
export function campaignHash(c: Campaign): string {
  const { target, out: _out, ...rest } = c;
  const { key: _key, admin, ...t } = target;
  return sha256(JSON.stringify({ ...rest, target: { ...t, admin: admin?.url } }));
}

export type AttackSpec = {
  id: AttackId | "clean";
  params: Record<string, unknown>;
  label: string;
};

/** The attacks of a campaign with their labels; "clean" (no attack) always comes first. */
export function attackSpecs(c: Campaign): AttackSpec[] {
  const specs: AttackSpec[] = [{ id: "clean", params: {}, label: "clean" }];
  for (const a of c.attacks) {
    const spec = typeof a === "string" ? { id: a, params: {} } : a;
    const p = Object.entries(spec.params);
    const label =
      (typeof a !== "string" && a.label) ||
      (p.length ? `${spec.id}(${p.map(([k, v]) => `${k}=${v}`).join(",")})` : spec.id);
    if (specs.some((s) => s.label === label)) throw new CampaignError(`attack "${label}" is listed twice`);
    specs.push({ id: spec.id, params: spec.params, label });
  }
  return specs;
}
