// Admin routes (ADMIN_TOKEN): API keys (created here, stored hashed), experiments in D1 (their arms checked
// against the runners' variants; deleted by name), and the request records, paged and filtered.
import * as z from "zod";
import { forgetKeys, newKey, sha256Hex } from "../auth";
import { checkExperiment, type Ctx } from "../env";
import { ApiError, invalid } from "../errors";
import { forgetExperiments, listExperiments } from "../experiments";
import { listRequests } from "../records";
import { NewKey } from "../schemas";
import { checkVariant } from "../variants";
import { readBody, variantsFor } from "./request";

export async function createKey(c: Ctx): Promise<Response> {
  const b = await readBody(c, NewKey);
  const key = newKey();
  const id = "key_" + crypto.randomUUID().slice(0, 8);
  const row = { id, name: b.name, prefix: key.slice(0, 7), created_at: new Date().toISOString() };
  await c.env.DB.prepare("INSERT INTO api_keys (id, name, hash, prefix, created_at) VALUES (?, ?, ?, ?, ?)")
    .bind(row.id, row.name, await sha256Hex(key), row.prefix, row.created_at)
    .run();
  return c.json({ ...row, key, note: "the key is shown only now; the gateway stores its hash" }, 201);
}

export async function listKeys(c: Ctx): Promise<Response> {
  const { results } = await c.env.DB.prepare(
    "SELECT id, name, prefix, created_at, revoked_at FROM api_keys ORDER BY created_at DESC",
  ).all();
  return c.json({ data: results });
}

export async function revokeKey(c: Ctx): Promise<Response> {
  const { meta } = await c.env.DB.prepare(
    "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
  )
    .bind(new Date().toISOString(), c.req.param("id"))
    .run();
  if (!meta.changes)
    throw new ApiError(404, `no active key with id "${c.req.param("id")}" (GET /admin/keys lists them)`);
  forgetKeys();
  return c.json({ id: c.req.param("id"), revoked: true });
}

export async function experiments(c: Ctx): Promise<Response> {
  return c.json({ data: await listExperiments(c.env.DB, c.var.config.experiments) });
}

export async function putExperiment(c: Ctx): Promise<Response> {
  const b = await readBody(c, z.looseObject({}));
  let e;
  try {
    e = checkExperiment({ ...b, name: c.req.param("name") }, "the body");
  } catch (err) {
    throw invalid((err as Error).message, "arms");
  }
  // An arm the runners do not serve would send every request for the model to a 404.
  const known = await variantsFor(c);
  for (const arm of Object.keys(e.arms)) {
    try {
      checkVariant(known, arm, `arms.${arm}`);
    } catch (err) {
      throw new ApiError(422, `arm ${(err as Error).message}`, { param: `arms.${arm}` });
    }
  }
  await c.env.DB.prepare(
    "INSERT INTO experiments (name, model, arms, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET model = excluded.model, arms = excluded.arms, updated_at = excluded.updated_at",
  )
    .bind(e.name, e.model, JSON.stringify(e.arms), new Date().toISOString())
    .run();
  forgetExperiments();
  return c.json(e);
}

export async function deleteExperiment(c: Ctx): Promise<Response> {
  const name = c.req.param("name");
  const { meta } = await c.env.DB.prepare("DELETE FROM experiments WHERE name = ?").bind(name).run();
  forgetExperiments();
  if (meta.changes) return c.json({ name, deleted: true });
  if (c.var.config.experiments.some((e) => e.name === name))
    throw new ApiError(409, `experiment "${name}" comes from the EXPERIMENTS variable: change it there`);
  throw new ApiError(404, `no experiment "${name}" (GET /admin/experiments lists them)`);
}

export async function requests(c: Ctx): Promise<Response> {
  const limit = Number(c.req.query("limit") ?? 50);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500)
    throw invalid(`"limit" must be a whole number from 1 to 500`, "limit");
  const status = c.req.query("status");
  if (status !== undefined && !/^\d{3}$/.test(status))
    throw invalid(`"status" must be an HTTP status such as 200`, "status");
  return c.json(
    await listRequests(c.env.DB, {
      experiment: c.req.query("experiment"),
      variant: c.req.query("variant"),
      status: status ? Number(status) : undefined,
      limit,
      cursor: c.req.query("cursor"),
    }),
  );
}
