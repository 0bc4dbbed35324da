// POST /v1/completions: OpenAI legacy completions. Prompts are text or token ids (one or many, one runner
// row each); `echo` with `logprobs` gives the prompt's own token log-probabilities in the legacy format
// (tokens, token_logprobs, top_logprobs, text_offset), which lm-evaluation-harness's local-completions uses
// to score multiple-choice tasks.
import { bool, int, num, onlyOne, optSeed, readJson, stops, type Json } from "../body";
import { ApiError, invalid } from "../errors";
import type { Ctx } from "../env";
import { generate, type Row } from "../generate";
import { capMaxTokens, capPrompt } from "../limits";
import {
  cmplId,
  completionChunks,
  finish,
  legacyLogprobs,
  textCompletion,
  type Choice,
  type RunnerLogprobs,
  type RunnerResult,
  type Usage,
} from "../openai/format";
import { relayEngine } from "../openai/engine";
import { mapSse, sseHeaders } from "../openai/sse";
import { RunnerPool, runnerError } from "../runner/pool";
import { routeModel } from "../variants";

type Prompt = string | number[];
type Echo = {
  tokens: number[];
  token_strs: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
  text_offset: number[];
};

const MAX_PROMPTS = 64;

export async function completions(c: Ctx): Promise<Response> {
  const b = await readJson(c);
  onlyOne(b, "completions");
  const prompts = checkPrompts(b.prompt);
  const echo = bool(b, "echo", false);
  const logprobs = b.logprobs === undefined || b.logprobs === null ? undefined : int(b, "logprobs", 0, 0, 20);
  const maxTokens = int(b, "max_tokens", 16, echo ? 0 : 1, 1 << 20);
  capMaxTokens(c, maxTokens);
  capPrompt(c, Math.max(...prompts.map((p) => p.length)), "prompt");
  const stream = bool(b, "stream", false);
  if (stream && echo)
    throw new ApiError(422, `"echo" cannot be combined with "stream" here; set stream to false`, {
      param: "echo",
      type: "invalid_value_error",
    });
  if (b.suffix)
    throw new ApiError(422, `"suffix" (fill-in-the-middle) is not supported; leave it out`, {
      param: "suffix",
      type: "invalid_value_error",
    });
  const r = await routeModel(c, b, stream);

  const rows: Row[] = prompts.map((prompt) => ({
    variant: r.variant,
    prompt,
    max_tokens: maxTokens,
    temperature: num(b, "temperature", 1, 0, 2),
    top_p: num(b, "top_p", 1, 0, 1),
    seed: optSeed(b),
    stop: stops(b),
    add_bos: typeof prompt === "string",
    logprobs,
  }));
  const id = cmplId();
  const texts = prompts.map((p) => (typeof p === "string" ? p : ""));
  const record = (u: Usage[]) => {
    c.var.record.promptTokens = u.reduce((s, x) => s + (x?.prompt_tokens ?? 0), 0);
    c.var.record.completionTokens = u.reduce((s, x) => s + (x?.completion_tokens ?? 0), 0);
  };

  if (echo) return c.json(await echoed(c, id, r.model, rows, logprobs, record));
  const answer = await generate(c, rows, stream, { path: "/v1/completions", body: b });
  if (answer.target.kind === "openai") return relayEngine(c, answer.res, r.model, stream);
  if (stream) {
    const includeUsage = Boolean((b.stream_options as Json | undefined)?.include_usage);
    const { stream: body, done } = mapSse(
      answer.res.body!,
      completionChunks(id, r.model, texts, includeUsage, record),
      c.var.config.runner.timeoutMs,
    );
    c.var.record.done = done;
    return c.body(body, 200, sseHeaders);
  }
  const { results } = (await answer.res.json()) as { results: RunnerResult[] };
  record(results.map((x) => x.usage));
  const choices: Choice[] = results.map((x, i) => ({
    index: i,
    text: x.text,
    logprobs: logprobs !== undefined && x.logprobs ? legacyLogprobs(x.logprobs, texts[i].length) : null,
    finish_reason: finish(x.finish_reason),
  }));
  return c.json(
    textCompletion(
      id,
      r.model,
      choices,
      results.map((x) => x.usage),
    ),
  );
}

/** echo: the prompt's token log-probabilities (POST /v1/score "echo") followed by the generated tokens'. */
async function echoed(
  c: Ctx,
  id: string,
  model: string,
  rows: Row[],
  logprobs: number | undefined,
  record: (u: Usage[]) => void,
) {
  const pool = new RunnerPool(c.env, c.var.config);
  const scoring = pool
    .call({
      path: "/v1/score",
      body: {
        echo: rows.map((x) => ({
          variant: x.variant,
          prompt: x.prompt,
          top_logprobs: logprobs ?? 0,
          add_bos: x.add_bos,
        })),
      },
      signal: c.req.raw.signal,
    })
    .then(async (a) => {
      c.var.record.target = a.target.name;
      if (!a.res.ok) throw await runnerError(a.res, a.target);
      return ((await a.res.json()) as { results: Echo[] }).results;
    });
  const generating =
    rows[0].max_tokens > 0
      ? generate(c, rows, false).then(
          async (a) => ((await a.res.json()) as { results: RunnerResult[] }).results,
        )
      : Promise.resolve(null);
  const [echoes, generated] = await Promise.all([scoring, generating]);
  const usage: Usage[] = echoes.map((e, i) => ({
    prompt_tokens: e.tokens.length,
    completion_tokens: generated?.[i]?.usage?.completion_tokens ?? 0,
  }));
  record(usage);
  const choices: Choice[] = echoes.map((e, i) => {
    const prompt = rows[i].prompt;
    const promptText = typeof prompt === "string" ? prompt : e.token_strs.join("");
    const gen = generated?.[i];
    const text = promptText + (gen?.text ?? "");
    if (logprobs === undefined)
      return { index: i, text, logprobs: null, finish_reason: finish(gen?.finish_reason ?? "length") };
    const tail: RunnerLogprobs = gen?.logprobs ?? { tokens: [], token_logprobs: [], top_logprobs: [] };
    const after = legacyLogprobs(tail, promptText.length);
    return {
      index: i,
      text,
      logprobs: {
        tokens: [...e.token_strs, ...after.tokens],
        token_logprobs: [...e.token_logprobs, ...after.token_logprobs],
        top_logprobs: [...e.top_logprobs, ...after.top_logprobs],
        text_offset: [...e.text_offset, ...after.text_offset],
      },
      finish_reason: finish(gen?.finish_reason ?? "length"),
    };
  });
  return textCompletion(id, model, choices, usage);
}

function checkPrompts(v: unknown): Prompt[] {
  const isIds = (x: unknown): x is number[] =>
    Array.isArray(x) && x.length > 0 && x.every((t) => Number.isInteger(t) && t >= 0);
  let prompts: Prompt[];
  if (typeof v === "string") prompts = [v];
  else if (isIds(v)) prompts = [v];
  else if (Array.isArray(v) && v.length > 0 && v.every((p) => typeof p === "string" || isIds(p)))
    prompts = v as Prompt[];
  else
    throw invalid(
      `"prompt" must be a string, a list of strings, a list of token ids, or a list of token-id lists`,
      "prompt",
    );
  if (prompts.length > MAX_PROMPTS)
    throw new ApiError(
      413,
      `at most ${MAX_PROMPTS} prompts per request, got ${prompts.length}; split the batch`,
      { param: "prompt" },
    );
  return prompts;
}
