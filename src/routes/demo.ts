// The public demo: GET / (the page) and GET /demo/massive (its chart's data, open to the demo tier under
// its prompt cap).
import type { Ctx } from "../env";
import { demoHtml } from "../demo/page";
import { capPrompt } from "../limits";
import { massiveProfile } from "./passthrough";
import { variantsFor } from "./request";

/** The page shows the demo variants the runners serve (each "+" part known), so a model without adapters
 * simply has fewer panes; with no runner up, the configured list. */
export async function page(c: Ctx): Promise<Response> {
  const demo = c.var.config.demo;
  const known = await variantsFor(c);
  const served = demo.variants.filter((v) => v.split("+").every((part) => known.includes(part)));
  return c.html(demoHtml({ ...demo, variants: served.length > 0 ? served : demo.variants }));
}

export async function massive(c: Ctx): Promise<Response> {
  capPrompt(c.var.auth, c.var.config, (c.req.query("prompt") ?? "").length, "prompt");
  return c.json(await massiveProfile(c));
}
