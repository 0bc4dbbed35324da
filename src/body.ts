// Reading and checking request bodies: malformed JSON and wrong types answer 400 with the field to fix,
// before anything reaches a runner.
import { ApiError, invalid } from "./errors";
import type { Ctx } from "./env";

export type Json = Record<string, unknown>;

export async function readJson(c: Ctx): Promise<Json> {
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
  return v as Json;
}

export function int(b: Json, name: string, def: number, min: number, max: number): number {
  const v = b[name] ?? def;
  if (typeof v !== "number" || !Number.isInteger(v)) throw invalid(`"${name}" must be a whole number`, name);
  if (v < min || v > max)
    throw new ApiError(422, `"${name}" must be between ${min} and ${max}, got ${v}`, {
      param: name,
      type: "invalid_value_error",
    });
  return v;
}

export function num(b: Json, name: string, def: number, min: number, max: number): number {
  const v = b[name] ?? def;
  if (typeof v !== "number" || !Number.isFinite(v)) throw invalid(`"${name}" must be a number`, name);
  if (v < min || v > max)
    throw new ApiError(422, `"${name}" must be between ${min} and ${max}, got ${v}`, {
      param: name,
      type: "invalid_value_error",
    });
  return v;
}

export function bool(b: Json, name: string, def: boolean): boolean {
  const v = b[name] ?? def;
  if (typeof v !== "boolean") throw invalid(`"${name}" must be true or false`, name);
  return v;
}

export function optSeed(b: Json): number | undefined {
  if (b.seed === undefined || b.seed === null) return undefined;
  return int(b, "seed", 0, 0, 2 ** 53);
}

export function stops(b: Json): string[] | undefined {
  const v = b.stop;
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return [v];
  if (Array.isArray(v) && v.length <= 4 && v.every((s) => typeof s === "string")) return v as string[];
  throw invalid(`"stop" must be a string or a list of at most 4 strings`, "stop");
}

export function user(c: Ctx, b: Json): string {
  if (b.user !== undefined && typeof b.user !== "string") throw invalid(`"user" must be a string`, "user");
  // Sticky assignment follows the caller's own user id, else the key, else the client address.
  return (b.user as string | undefined) || c.var.auth.keyId || `client:${c.var.auth.client}`;
}

export function onlyOne(b: Json, name: string) {
  if (b.n !== undefined && b.n !== 1)
    throw new ApiError(422, `"n" must be 1: send one request per sample (seeded)`, {
      param: "n",
      type: "invalid_value_error",
    });
  if (b.best_of !== undefined && b.best_of !== 1)
    throw new ApiError(422, `"best_of" is not supported by ${name}; leave it out`, {
      param: "best_of",
      type: "invalid_value_error",
    });
}
