// GET /v1/models: the model (an experiment assigns its variant) and one entry per "<model>:<variant>".
// GET /health: the gateway's view of every runner target.
import type { Ctx } from "../env";
import { poolFor, variantsFor } from "./request";

export async function models(c: Ctx): Promise<Response> {
  const name = c.var.config.model;
  const variants = await variantsFor(c);
  const entry = (id: string) => ({ id, object: "model", created: 0, owned_by: "house" });
  return c.json({ object: "list", data: [entry(name), ...variants.map((v) => entry(`${name}:${v}`))] });
}

export async function health(c: Ctx): Promise<Response> {
  const targets = await poolFor(c).health();
  const ok = targets.some((t) => t.ok);
  return c.json({ status: ok ? "ok" : "degraded", model: c.var.config.model, targets }, ok ? 200 : 503);
}
