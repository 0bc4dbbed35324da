// The public demo: GET / (the page) and GET /demo/massive (its chart's data, open to the demo tier under
// its prompt cap).
import type { Ctx } from "../env";
import { demoHtml } from "../demo/page";
import { capPrompt } from "../limits";
import { massiveProfile } from "./passthrough";

export const page = (c: Ctx): Response => c.html(demoHtml(c.var.config.demo));

export async function massive(c: Ctx): Promise<Response> {
  capPrompt(c.var.auth, c.var.config, (c.req.query("prompt") ?? "").length, "prompt");
  return c.json(await massiveProfile(c));
}
