// Routes passed through to the runner: POST /v1/score and GET /v1/massive (API key required), and the
// tokenizer routes lm-evaluation-harness's remote tokenizer calls (vLLM's field names are accepted too:
// {"prompt", "add_special_tokens"} -> {"tokens"}, and detokenize answers both "prompt" and "text").
// Bodies are checked against the runner's wire contract here, so nothing malformed reaches a runner.
import type { Ctx } from "../env";
import { invalid } from "../errors";
import { capPrompt, requireKey } from "../limits";
import { check, DetokenizeRequest, MassiveQuery, ScoreRequest } from "../runner/wire";
import { PublicTokenizeRequest } from "../schemas";
import { checkVariant } from "../variants";
import { poolFor, readBody, variantsFor } from "./request";

type Json = Record<string, unknown>;

export async function score(c: Ctx): Promise<Response> {
  requireKey(c.var.auth, "POST /v1/score");
  const b = await readBody(c, ScoreRequest);
  const [kind, rows] = Object.entries(b).find(([, v]) => v != null)! as [string, { variant?: string }[]];
  const known = await variantsFor(c);
  const variants = rows.map((r, i) => checkVariant(known, r.variant ?? "base", `${kind}[${i}].variant`));
  c.var.record.variant = [...new Set(variants)].join(",");
  c.var.admit(rows.length);
  return c.json(await poolFor(c).json<Json>({ path: "/v1/score", body: b }));
}

export async function massive(c: Ctx): Promise<Response> {
  requireKey(c.var.auth, "GET /v1/massive");
  return c.json(await massiveProfile(c));
}

/** The massive-activation profile for a query's prompt and k (the demo page's chart uses it too). */
export async function massiveProfile(c: Ctx): Promise<Json> {
  const { prompt, k, variant } = check(MassiveQuery, c.req.query());
  const q = new URLSearchParams();
  if (prompt) q.set("prompt", prompt);
  if (k !== undefined) q.set("k", String(k));
  if (variant) q.set("variant", variant);
  return poolFor(c).json<Json>({ path: `/v1/massive${q.size ? "?" + q : ""}` });
}

export async function tokenizerInfo(c: Ctx): Promise<Response> {
  const info = await poolFor(c).json<Json>({ path: "/v1/tokenizer_info" });
  // lm-evaluation-harness renders chat_template when it is a string; the runner says true/false.
  return c.json({
    ...info,
    chat_template: typeof info.chat_template === "string" ? info.chat_template : null,
    has_chat_template: Boolean(info.chat_template),
  });
}

export async function tokenize(c: Ctx): Promise<Response> {
  const b = await readBody(c, PublicTokenizeRequest);
  const text = b.text ?? b.prompt;
  if (text === undefined) throw invalid(`"text" (or "prompt") must be a string`, "text");
  capPrompt(c.var.auth, c.var.config, text.length, "text");
  const body = {
    text,
    add_bos: b.add_bos ?? b.add_special_tokens ?? true,
    parse_special_tokens: b.parse_special_tokens,
  };
  const out = await poolFor(c).json<Json>({ path: "/v1/tokenize", body });
  return c.json({ ...out, count: out.count ?? (out.tokens as unknown[]).length });
}

export async function detokenize(c: Ctx): Promise<Response> {
  const b = await readBody(c, DetokenizeRequest);
  const out = await poolFor(c).json<Json>({ path: "/v1/detokenize", body: b });
  return c.json({ text: out.text, prompt: out.text });
}
