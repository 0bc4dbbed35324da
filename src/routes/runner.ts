// Pass-through routes to the runner: POST /v1/score and GET /v1/massive (API key required), and the
// tokenizer routes lm-evaluation-harness's remote tokenizer calls (vLLM's field names are accepted too:
// {"prompt", "add_special_tokens"} -> {"tokens"}, and detokenize answers both "prompt" and "text").
// Validation happens here, so nothing malformed reaches a runner.
import { readJson, type Json } from "../body";
import { invalid } from "../errors";
import type { Ctx } from "../env";
import { capPrompt, requireKey } from "../limits";
import { RunnerPool, runnerError } from "../runner/pool";
import { checkVariant } from "../variants";

async function relay(c: Ctx, path: string, body?: unknown): Promise<Json> {
  const a = await new RunnerPool(c.env, c.var.config).call({ path, body, signal: c.req.raw.signal });
  c.var.record.target = a.target.name;
  if (!a.res.ok) throw await runnerError(a.res, a.target);
  return (await a.res.json()) as Json;
}

export async function score(c: Ctx): Promise<Response> {
  requireKey(c, "POST /v1/score");
  const b = await readJson(c);
  const lists = (["requests", "rolling", "echo"] as const).filter((k) => b[k] !== undefined);
  if (lists.length !== 1)
    throw invalid(`send exactly one of "requests", "rolling" or "echo" (see gpu-runner/API.md)`);
  const rows = b[lists[0]];
  if (!Array.isArray(rows) || rows.length === 0)
    throw invalid(`"${lists[0]}" must be a non-empty list`, lists[0]);
  const variants = new Set<string>();
  for (const [i, r] of rows.entries()) {
    if (typeof r?.variant !== "string")
      throw invalid(`${lists[0]}[${i}].variant must be a variant name`, `${lists[0]}[${i}].variant`);
    variants.add(await checkVariant(c, r.variant, `${lists[0]}[${i}].variant`));
  }
  c.var.record.variant = [...variants].join(",");
  return c.json(await relay(c, "/v1/score", b));
}

export async function massive(c: Ctx): Promise<Response> {
  requireKey(c, "GET /v1/massive");
  return c.json(await massiveProfile(c));
}

/** GET /demo/massive: the same profile for the demo page, open to the demo tier under its caps. */
export async function demoMassive(c: Ctx): Promise<Response> {
  capPrompt(c, (c.req.query("prompt") ?? "").length, "prompt");
  return c.json(await massiveProfile(c));
}

async function massiveProfile(c: Ctx): Promise<Json> {
  const q = new URLSearchParams();
  const prompt = c.req.query("prompt");
  const k = c.req.query("k");
  if (prompt) q.set("prompt", prompt);
  if (k !== undefined) {
    if (!/^\d+$/.test(k) || +k < 1 || +k > 64) throw invalid(`"k" must be a whole number from 1 to 64`, "k");
    q.set("k", k);
  }
  return relay(c, `/v1/massive${q.size ? "?" + q : ""}`);
}

export async function tokenizerInfo(c: Ctx): Promise<Response> {
  const info = await relay(c, "/v1/tokenizer_info");
  // lm-evaluation-harness renders chat_template when it is a string; the runner says true/false.
  return c.json({
    ...info,
    chat_template: typeof info.chat_template === "string" ? info.chat_template : null,
    has_chat_template: Boolean(info.chat_template),
  });
}

export async function tokenize(c: Ctx): Promise<Response> {
  const b = await readJson(c);
  const text = b.text ?? b.prompt;
  if (typeof text !== "string") throw invalid(`"text" (or "prompt") must be a string`, "text");
  capPrompt(c, text.length, "text");
  const addBos = b.add_bos ?? b.add_special_tokens ?? true;
  if (typeof addBos !== "boolean") throw invalid(`"add_bos" must be true or false`, "add_bos");
  const out = await relay(c, "/v1/tokenize", { text, add_bos: addBos });
  return c.json({ ...out, count: out.count ?? (out.tokens as unknown[]).length });
}

export async function detokenize(c: Ctx): Promise<Response> {
  const b = await readJson(c);
  if (!Array.isArray(b.tokens) || !b.tokens.every((t) => Number.isInteger(t) && t >= 0))
    throw invalid(`"tokens" must be a list of token ids`, "tokens");
  const out = await relay(c, "/v1/detokenize", { tokens: b.tokens });
  return c.json({ text: out.text, prompt: out.text });
}
