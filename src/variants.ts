// Which variants exist (from the runners' /health, cached per isolate) and what a request's `model` means:
// "<model>:<variant>" is a fixed variant, "<model>" lets the experiment assign one. Names compose with "+".
import { user, type Json } from "./body";
import { ApiError } from "./errors";
import type { Ctx } from "./env";
import { experimentFor, assignArm } from "./experiments";
import { capVariant } from "./limits";
import { RunnerPool } from "./runner/pool";

const TTL_MS = 15_000;
let cached: { at: number; variants: string[] } | null = null;

export async function knownVariants(c: Ctx): Promise<string[]> {
  if (cached && Date.now() - cached.at < TTL_MS) return cached.variants;
  const health = await new RunnerPool(c.env, c.var.config).health();
  const up = health.filter((h) => h.ok);
  if (up.length === 0) return c.var.config.variants; // the runner call itself will answer 503
  const variants = [...new Set(up.flatMap((h) => h.variants))];
  cached = { at: Date.now(), variants };
  return variants;
}

export async function checkVariant(c: Ctx, variant: string, param: string): Promise<string> {
  const known = await knownVariants(c);
  const unknown = variant.split("+").filter((part) => !known.includes(part));
  if (unknown.length > 0 || variant === "")
    throw new ApiError(
      404,
      `unknown variant "${variant}" (${unknown.join(", ") || "empty"}): known variants are ${known.join(", ")}; compose them with "+"`,
      {
        param,
        code: "model_not_found",
      },
    );
  return variant;
}

export type Resolved = { model: string; variant: string; experiment: string | null };

/** Resolves the request's `model` to a variant, sticky per (user, experiment) when no variant is named. */
export async function resolveModel(c: Ctx, model: unknown, user: string): Promise<Resolved> {
  const name = c.var.config.model;
  if (typeof model !== "string" || model === "")
    throw new ApiError(400, `"model" is required: use "${name}" or "${name}:<variant>"`, { param: "model" });
  const [base, ...rest] = model.split(":");
  if (base !== name)
    throw new ApiError(
      404,
      `unknown model "${model}": this gateway serves "${name}" and "${name}:<variant>" (GET /v1/models lists them)`,
      {
        param: "model",
        code: "model_not_found",
      },
    );
  if (rest.length > 0) {
    const variant = await checkVariant(c, rest.join(":"), "model");
    return { model: `${name}:${variant}`, variant, experiment: null };
  }
  const experiment = await experimentFor(c, name);
  if (!experiment) return { model: `${name}:base`, variant: "base", experiment: null };
  const variant = await assignArm(experiment, user);
  return { model: `${name}:${variant}`, variant, experiment: experiment.name };
}

/** resolveModel for the OpenAI routes: applies the demo cap, stamps the record and names the variant in headers. */
export async function routeModel(c: Ctx, b: Json, stream: boolean): Promise<Resolved> {
  const r = await resolveModel(c, b.model, user(c, b));
  capVariant(c, r.variant, "model");
  Object.assign(c.var.record, {
    model: b.model as string,
    variant: r.variant,
    experiment: r.experiment,
    stream,
  });
  c.header("x-house-variant", r.variant);
  if (r.experiment) c.header("x-house-experiment", r.experiment);
  return r;
}
