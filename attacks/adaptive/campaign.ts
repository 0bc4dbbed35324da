// Adaptive attacks inside a campaign: for every multiple-choice item, a suffix is searched on one variant
// (params.variant, default the campaign's baseline) to raise the log-likelihood of a wrong choice (the one
// after the gold, cyclically); the attacked prompt is the item's prompt plus that suffix's text, and every
// variant is then scored on it, so the report shows how the suffix transfers across weight attacks. Other
// kinds of item get no cells. The search is seeded and deterministic, so a resumed run rebuilds the same
// cases. Parameters other than `variant` go to the attack (adaptive/random-search.ts, adaptive/gcg.ts).
import type { AttackSpec, Campaign } from "../campaign";
import { adaptiveKey, type TaskCases } from "../cells";
import type { ModelClient } from "../client";
import { ADAPTIVE } from "../index";
import { stamp } from "../transforms/stamp";
import type { Case } from "../types";

export async function adaptiveCases(
  c: Campaign,
  client: ModelClient,
  tasks: TaskCases[],
  specs: AttackSpec[],
  progress: (msg: string) => void = () => {},
): Promise<Map<string, Case[]>> {
  const out = new Map<string, Case[]>();
  for (const a of specs) {
    if (!(a.id in ADAPTIVE)) continue;
    const { variant = c.baseline_variant, ...params } = a.params as { variant?: string } & Record<
      string,
      number
    >;
    for (const t of tasks)
      for (const seed of c.seeds) {
        const mc = t.cases.filter((x) => x.kind === "mc" && x.choices && x.gold !== undefined);
        const attacked: Case[] = [];
        for (const [i, x] of mc.entries()) {
          progress(`${a.label} on ${t.task}, seed ${seed}: item ${i + 1}/${mc.length}`);
          const target = x.choices![(x.gold! + 1) % x.choices!.length];
          const o = { ...params, variant, prompt: x.prompt, target, seed };
          const res =
            a.id === "gcg" ? await ADAPTIVE.gcg(client, o) : await ADAPTIVE["random-search"](client, o);
          attacked.push(stamp(x, a.id, a.params, seed, x.prompt + res.suffixText));
        }
        out.set(adaptiveKey(a.label, t.task, seed), attacked);
      }
  }
  return out;
}
