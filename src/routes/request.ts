// What routes read off the Hono context, each in one place: the body (checked against its schema), the
// runner pool for this request, and the model a request names (variant, experiment, record, headers). The
// rules they apply are plain functions elsewhere (variants, limits, experiments) taking plain values.
import type * as z from "zod";
import type { Ctx } from "../env";
import { invalid } from "../errors";
import { experimentFor } from "../experiments";
import { capVariant } from "../limits";
import { RunnerPool } from "../runner/pool";
import { check } from "../runner/wire";
import { knownVariants, resolveModel, type Resolved } from "../variants";

/** The body as JSON, checked against `schema`: malformed JSON and broken rules answer 4xx naming the field. */
export async function readBody<T extends z.ZodType>(c: Ctx, schema: T): Promise<z.output<T>> {
  const text = await c.req.text();
  if (text.trim() === "") throw invalid("the request body is empty: send a JSON object");
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw invalid(
      `the request body is not valid JSON (${(e as Error).message}); send a JSON object`,
      null,
      "invalid_json",
    );
  }
  if (!v || typeof v !== "object" || Array.isArray(v))
    throw invalid("the request body must be a JSON object");
  return check(schema, v);
}

/** The pool for this request: cancelled with the client, and the record names the target that answered. */
export function poolFor(c: Ctx): RunnerPool {
  return new RunnerPool(c.env, c.var.config, {
    signal: c.req.raw.signal,
    onTarget: (t) => (c.var.record.target = t.name),
  });
}

export const variantsFor = (c: Ctx) => knownVariants(poolFor(c), c.var.config.variants);

/** The request's model for the OpenAI routes: resolved, demo-capped, stamped on the record and in headers. */
export async function routeModel(
  c: Ctx,
  b: { model?: string; user?: string | null },
  stream: boolean,
): Promise<Resolved> {
  const { config, auth, record } = c.var;
  // Sticky assignment follows the caller's own user id, else the key, else the client address.
  const user = b.user || auth.keyId || `client:${auth.client}`;
  const r = await resolveModel(
    b.model,
    config.model,
    await variantsFor(c),
    () => experimentFor(c.env.DB, config.experiments, config.model),
    user,
  );
  capVariant(auth, config, r.variant, "model");
  Object.assign(record, { model: b.model, variant: r.variant, experiment: r.experiment, stream });
  c.header("x-house-variant", r.variant);
  if (r.experiment) c.header("x-house-experiment", r.experiment);
  return r;
}
