// The public API as OpenAPI operations (served at GET /openapi.json by @hono/zod-openapi). Bodies are the
// same zod schemas the routes read with (schemas.ts, runner/wire.ts), so the document cannot drift from
// what the gateway accepts. `route` registers a handler and its operation together.
import { createRoute, type OpenAPIHono, type RouteConfig } from "@hono/zod-openapi";
import type * as z from "zod";
import type { AppEnv, Ctx } from "./env";
import { DetokenizeRequest, MassiveQuery, ScoreRequest } from "./runner/wire";
import { ChatRequest, CompareRequest, CompletionRequest, NewKey, PublicTokenizeRequest } from "./schemas";

const json = (schema: z.ZodType) => ({ content: { "application/json": { schema } }, required: true });
const ok = (description: string) => ({
  200: { description },
  default: { description: '{"error": {"type", "message", "param", "code"}} with a 4xx or 5xx' },
});

type Op = {
  method: "get" | "post" | "put" | "delete";
  summary: string;
  body?: z.ZodType;
  query?: z.ZodObject;
};

const op = (path: string, { method, summary, body, query }: Op): RouteConfig =>
  createRoute({
    method,
    path,
    summary,
    request: { ...(body ? { body: json(body) } : {}), ...(query ? { query } : {}) },
    responses: ok(summary),
  });

export const ops = {
  chat: { method: "post", summary: "OpenAI chat completion (stream: server-sent chunks)", body: ChatRequest },
  completions: {
    method: "post",
    summary: "OpenAI legacy completion; echo + logprobs",
    body: CompletionRequest,
  },
  compare: { method: "post", summary: "one prompt, several variants, side by side", body: CompareRequest },
  models: { method: "get", summary: "the model and one entry per variant" },
  score: { method: "post", summary: "log-likelihoods (API key)", body: ScoreRequest },
  massive: { method: "get", summary: "the massive-activation analysis (API key)", query: MassiveQuery },
  tokenize: { method: "post", summary: "text to token ids", body: PublicTokenizeRequest },
  detokenize: { method: "post", summary: "token ids to text", body: DetokenizeRequest },
  tokenizerInfo: { method: "get", summary: "BOS/EOS ids and whether there is a chat template" },
  newKey: { method: "post", summary: "create an API key (admin)", body: NewKey },
} satisfies Record<string, Op>;

/** `handler` on `path`, documented as `spec` in /openapi.json. */
export function route(
  app: OpenAPIHono<AppEnv>,
  path: string,
  spec: Op,
  handler: (c: Ctx) => Response | Promise<Response>,
) {
  app.openAPIRegistry.registerPath(op(path, spec));
  app.on(spec.method.toUpperCase(), path, handler);
}

export const info = {
  openapi: "3.1.0",
  info: {
    title: "house-of-cards gateway",
    version: "1",
    description:
      "OpenAI-compatible gateway for base, massive-weight-ablated and adapted variants of one model (arXiv 2410.01866).",
  },
};
