// POST /v1/completions: OpenAI legacy completions. Prompts are text or token ids (one or many, one runner
// row each); `echo` with `logprobs` gives the prompt's own token log-probabilities in the legacy format
// (tokens, token_logprobs, top_logprobs, text_offset), which lm-evaluation-harness's local-completions uses
// to score multiple-choice tasks.
import type { Ctx } from "../env";
import { ApiError } from "../errors";
import { capRequest } from "../limits";
import {
  cmplId,
  completionChunks,
  finish,
  legacyLogprobs,
  textCompletion,
  type Choice,
} from "../openai/format";
import { clientField, generate } from "../runner/generate";
import type { RunnerPool } from "../runner/pool";
import type { Echo, Logprobs, Result, Row, Usage } from "../runner/wire";
import { CompletionRequest, samplingRow } from "../schemas";
import { poolFor, readBody, routeModel, servedFor } from "./request";
import { relayEngine, streamTail } from "./stream";

export async function completions(c: Ctx): Promise<Response> {
  const b = await readBody(c, CompletionRequest);
  const { auth, config, record } = c.var;
  const prompts = promptList(b.prompt);
  const echo = b.echo ?? false;
  const logprobs = b.logprobs ?? undefined;
  const maxTokens = b.max_tokens ?? 16;
  if (maxTokens === 0 && !echo)
    throw new ApiError(422, `"max_tokens" must be at least 1 (0 only with "echo")`, {
      param: "max_tokens",
      type: "invalid_value_error",
    });
  // Caps bound the whole request, not each prompt.
  const input = (i: number) => (prompts.length === 1 && !isList(b.prompt) ? "prompt" : `prompt[${i}]`);
  capRequest(auth, config, (await servedFor(c)).limits, {
    rows: prompts.length,
    rowsParam: "prompt",
    rowsNoun: "prompts",
    maxTokens,
    tokensParam: "max_tokens",
    promptChars: prompts.reduce((s, p) => s + p.length, 0), // a token id counts as one character
    promptParam: "prompt",
    idPrompts: prompts.flatMap((p, i) =>
      typeof p === "string" ? [] : [{ param: input(i), tokens: p.length }],
    ),
  });
  const stream = b.stream ?? false;
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
  c.var.admit(prompts.length);

  const rows: Row[] = prompts.map((prompt) => ({
    variant: r.variant,
    prompt,
    max_tokens: maxTokens,
    ...samplingRow(b, { temperature: 1 }),
    add_bos: typeof prompt === "string",
    logprobs,
  }));
  const id = cmplId();
  const texts = prompts.map((p) => (typeof p === "string" ? p : ""));
  const count = (u: Usage[]) => {
    record.promptTokens = u.reduce((s, x) => s + (x?.prompt_tokens ?? 0), 0);
    record.completionTokens = u.reduce((s, x) => s + (x?.completion_tokens ?? 0), 0);
  };

  const pool = poolFor(c);
  if (echo) return c.json(await echoed(pool, id, r.model, rows, logprobs, count, input));
  const answer = await generate(pool, rows, stream, { path: "/v1/completions", body: b }, input);
  if (answer.target.kind === "openai") return relayEngine(c, answer.res, r.model, stream);
  if (stream) {
    const includeUsage = Boolean(b.stream_options?.include_usage);
    return streamTail(c, answer.res.body!, completionChunks(id, r.model, texts, includeUsage, count));
  }
  const { results } = (await answer.res.json()) as { results: Result[] };
  count(results.map((x) => x.usage));
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
  pool: RunnerPool,
  id: string,
  model: string,
  rows: Row[],
  logprobs: number | undefined,
  count: (u: Usage[]) => void,
  input: (row: number) => string,
) {
  const scoring = pool
    .json<{ results: Echo[] }>({
      path: "/v1/score",
      field: clientField(input),
      body: {
        echo: rows.map((x) => ({
          variant: x.variant,
          prompt: x.prompt,
          top_logprobs: logprobs ?? 0,
          add_bos: x.add_bos,
          parse_special_tokens: x.parse_special_tokens,
        })),
      },
    })
    .then((j) => j.results);
  const generating =
    (rows[0].max_tokens ?? 0) > 0
      ? generate(pool, rows, false, undefined, input).then(
          async (a) => ((await a.res.json()) as { results: Result[] }).results,
        )
      : Promise.resolve(null);
  const [echoes, generated] = await Promise.all([scoring, generating]);
  const usage: Usage[] = echoes.map((e, i) => ({
    prompt_tokens: e.tokens.length,
    completion_tokens: generated?.[i]?.usage?.completion_tokens ?? 0,
  }));
  count(usage);
  const choices: Choice[] = echoes.map((e, i) => {
    const prompt = rows[i].prompt;
    const promptText = typeof prompt === "string" ? prompt : e.token_strs.join("");
    const gen = generated?.[i];
    const text = promptText + (gen?.text ?? "");
    if (logprobs === undefined)
      return { index: i, text, logprobs: null, finish_reason: finish(gen?.finish_reason ?? "length") };
    const tail: Logprobs = gen?.logprobs ?? { tokens: [], token_logprobs: [], top_logprobs: [] };
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

/** Whether the prompt field is a list of prompts (not one text, not one list of token ids). */
const isList = (p: unknown) => Array.isArray(p) && !p.every((x) => typeof x === "number");

/** The prompt field as a list of prompts (one runner row each). */
function promptList(p: string | number[] | (string | number[])[]): (string | number[])[] {
  if (typeof p === "string") return [p];
  return p.every((x) => typeof x === "number") ? [p as number[]] : (p as (string | number[])[]);
}
