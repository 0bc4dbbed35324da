// What routes read off the Hono context, each in one place: the body (checked against its schema), the
// runner pool for this request, and the model a request names (variant, experiment, record, headers). The
// rules they apply are plain functions elsewhere (variants, limits, experiments) taking plain values.
import type * as z from "zod";
import type { Ctx } from "../env";
import { invalid } from "../errors";
import { experimentFor } from "../experiments";
import { capVariant } from "../limits";
import { RunnerPool } from "../runner/pool";
import { served } from "../runner/served";
import { check } from "../runner/wire";
import { knownVariants, resolveModel, type Resolved } from "../variants";

/** The body as JSON, checked against `schema`: malformed JSON and broken rules answer 4xx naming the field. */
export async function readBody<T extends z.ZodType>(c: Ctx, schema: T): Promise<z.output<T>> {
  const encoding = (c.req.header("content-encoding") ?? "identity").trim().toLowerCase();
  // Compressed bodies are not accepted (a body that lies about its encoding must not reach a runner).
  if (encoding !== "identity")
    throw invalid(`Content-Encoding "${encoding.slice(0, 40)}" is not accepted; send the JSON uncompressed`);
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
  wellFormed(v);
  return check(schema, v);
}

const MAX_DEPTH = 32; // no request of ours nests deeper than a few levels
// A high surrogate not followed by a low one, or a low one not preceded by a high one (code units: no u flag).
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Refuses nesting past MAX_DEPTH and strings holding a lone UTF-16 surrogate ("\ud800"), which JSON.parse
 *  reads but no tokenizer encodes. Iterative, so a body nested 100k deep cannot overflow the stack. */
export function wellFormed(root: unknown): void {
  const stack: [unknown, number][] = [[root, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (typeof v === "string" && LONE_SURROGATE.test(v))
      throw invalid("a string holds a lone UTF-16 surrogate (like \\ud800); send valid Unicode");
    if (v === null || typeof v !== "object") continue;
    if (depth >= MAX_DEPTH) throw invalid(`the request body nests deeper than ${MAX_DEPTH} levels`);
    for (const [k, x] of Object.entries(v)) stack.push([k, depth + 1], [x, depth + 1]);
  }
}

/** The pool for this request: cancelled with the client, and the record names the target that answered. */
export function poolFor(c: Ctx): RunnerPool {
  return new RunnerPool(c.env, c.var.config, {
    signal: c.req.raw.signal,
    onTarget: (t) => (c.var.record.target = t.name),
  });
}

export const variantsFor = (c: Ctx) => knownVariants(poolFor(c), c.var.config.variants);

/** The runners' variants and limits (their /health), cached per isolate. */
export const servedFor = (c: Ctx) => served(poolFor(c), c.var.config.variants);

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
