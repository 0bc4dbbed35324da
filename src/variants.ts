// Which variants exist (from the runners' /health, cached per isolate) and what a request's `model` means:
// "<model>:<variant>" is a fixed variant, "<model>" lets the experiment assign one. Names compose with "+".
import type { Experiment } from "./env";
import { ApiError } from "./errors";
import { assignArm } from "./experiments";
import type { RunnerPool } from "./runner/pool";
import { served } from "./runner/served";

/** The variants the runners serve; `fallback` (VARIANTS) while none answers (runner/served.ts caches them). */
export async function knownVariants(pool: RunnerPool, fallback: string[]): Promise<string[]> {
  return (await served(pool, fallback)).variants;
}

/** `variant` when each of its "+" parts is known, else 404 listing the known ones. */
export function checkVariant(known: string[], variant: string, param: string): string {
  const unknown = variant.split("+").filter((part) => !known.includes(part));
  if (unknown.length > 0 || variant === "")
    throw new ApiError(
      404,
      `unknown variant "${variant}" (${unknown.join(", ") || "empty"}): known variants are ${known.join(", ")}; compose them with "+"`,
      { param, code: "model_not_found" },
    );
  return variant;
}

export type Resolved = { model: string; variant: string; experiment: string | null };

/** The request's `model` as "<name>:<variant>", or "<name>" for the experiment's arm, sticky per user. */
export async function resolveModel(
  model: unknown,
  name: string,
  known: string[],
  experiment: () => Promise<Experiment | null>,
  user: string,
): Promise<Resolved> {
  if (typeof model !== "string" || model === "")
    throw new ApiError(400, `"model" is required: use "${name}" or "${name}:<variant>"`, { param: "model" });
  const [base, ...rest] = model.split(":");
  if (base !== name)
    throw new ApiError(
      404,
      `unknown model "${model}": this gateway serves "${name}" and "${name}:<variant>" (GET /v1/models lists them)`,
      { param: "model", code: "model_not_found" },
    );
  if (rest.length > 0) {
    const variant = checkVariant(known, rest.join(":"), "model");
    return { model: `${name}:${variant}`, variant, experiment: null };
  }
  const e = await experiment();
  if (!e) return { model: `${name}:base`, variant: "base", experiment: null };
  const variant = await assignArm(e, user);
  return { model: `${name}:${variant}`, variant, experiment: e.name };
}
