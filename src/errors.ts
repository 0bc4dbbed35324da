// The one error type and its one renderer: routes throw ApiError with a message that says what to fix;
// only `renderError` (app.onError) and `notFound` turn errors into OpenAI's {error: {message, type, param, code}}.
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Ctx } from "./env";

export class ApiError extends HTTPException {
  readonly type: string;
  readonly param: string | null;
  readonly code: string | null;
  readonly headers: Record<string, string>;
  constructor(
    status: ContentfulStatusCode,
    message: string,
    opts: {
      type?: string;
      param?: string | null;
      code?: string | null;
      headers?: Record<string, string>;
    } = {},
  ) {
    super(status, { message });
    this.type = opts.type ?? defaultType(status);
    this.param = opts.param ?? null;
    this.code = opts.code ?? null;
    this.headers = opts.headers ?? {};
  }
}

function defaultType(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status === 413) return "request_too_large";
  if (status === 422) return "invalid_value_error";
  if (status === 429) return "rate_limit_error";
  if (status === 503) return "unavailable_error"; // the runner's 503s use the same type (runner/errors.py)
  if (status === 504) return "runner_timeout";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

export const invalid = (message: string, param: string | null = null, code: string | null = null) =>
  new ApiError(400, message, { param, code });

export function errorBody(
  type: string,
  message: string,
  param: string | null = null,
  code: string | null = null,
) {
  return { error: { message, type, param, code } };
}

export function renderError(err: Error, c: Ctx): Response {
  if (err instanceof ApiError) {
    for (const [k, v] of Object.entries(err.headers)) c.header(k, v);
    return c.json(errorBody(err.type, err.message, err.param, err.code), err.status);
  }
  if (err instanceof HTTPException)
    return c.json(errorBody(defaultType(err.status), err.message), err.status);
  console.error("unhandled error", err);
  return c.json(errorBody("server_error", `internal error in the gateway: ${err.message}`), 500);
}

// OpenAI routes a client may try that this gateway does not implement, with what to use instead.
const NOT_IMPLEMENTED: Record<string, string> = {
  "/v1/responses": "the Responses API is not implemented here: use POST /v1/chat/completions",
  "/v1/embeddings": "embeddings are not implemented here",
  "/v1/assistants": "the Assistants API is not implemented here: use POST /v1/chat/completions",
};

export function notFound(c: Ctx): Response {
  const path = new URL(c.req.url).pathname;
  const known = Object.entries(NOT_IMPLEMENTED).find(([p]) => path === p || path.startsWith(p + "/"));
  const hint = known
    ? known[1]
    : "see GET /v1/models, POST /v1/chat/completions, POST /v1/completions, POST /v1/compare";
  return c.json(errorBody("not_found_error", `no route ${c.req.method} ${path}: ${hint}`), 404);
}
