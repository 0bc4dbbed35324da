// A campaign as cells: every (task item, attack with parameters, seed) attacked case, crossed with every
// variant and repetition. Pure and ordered: the same campaign gives the same cells with the same keys,
// which is what makes --resume exactly-once. Adaptive attacks need the model, so their attacked cases come
// precomputed (keyed by adaptiveKey); a missing entry means no cells for it.
import type { AttackSpec } from "./campaign";
import { TRANSFORMS } from "./index";
import type { Case, Cell, TransformContext } from "./types";

export type TaskCases = { task: string; judge?: "exact" | "canary" | "refusal"; cases: Case[] };

export function cellKey(
  variant: string,
  attack: string,
  caseId: string,
  seed: number,
  repeat: number,
): string {
  return `${variant}|${attack}|${caseId}|s${seed}|r${repeat}`;
}

export const adaptiveKey = (label: string, task: string, seed: number) =>
  `${label}\u0000${task}\u0000${seed}`;

export function expandCells(
  tasks: TaskCases[],
  attacks: AttackSpec[],
  variants: string[],
  seeds: number[],
  repeats: number,
  ctx: TransformContext,
  adaptive: Map<string, Case[]> = new Map(),
): Cell[] {
  const cells: Cell[] = [];
  for (const t of tasks)
    for (const a of attacks)
      for (const seed of seeds) {
        const attacked =
          a.id === "clean"
            ? t.cases
            : a.id in TRANSFORMS
              ? TRANSFORMS[a.id as keyof typeof TRANSFORMS](t.cases, a.params, seed, ctx)
              : (adaptive.get(adaptiveKey(a.label, t.task, seed)) ?? []);
        for (const item of attacked)
          for (const variant of variants)
            for (let repeat = 0; repeat < repeats; repeat++)
              cells.push({
                key: cellKey(variant, a.label, item.id, seed, repeat),
                variant,
                attack: a.label,
                item,
                seed,
                repeat,
              });
      }
  return cells;
}
