// The attack module's model client on the gateway's runner pool (src/runner/pool.ts): the CLI's HttpClient
// with the pool as its transport, so scoring, echo scoring without BOS and generation are the same code,
// and failover, timeouts and retries are the pool's (the client itself does not retry: retries: 0).
// A pool error (no runner answered, a timeout, a body the contract refuses) comes back as its HTTP status.
import { HttpClient } from "../../attacks/client";
import { HttpError } from "../../attacks/http";
import type { Bindings, Config } from "../env";
import { ApiError, errorBody } from "../errors";
import { RunnerPool } from "../runner/pool";

export function poolClient(env: Bindings, cfg: Config): HttpClient {
  const pool = new RunnerPool(env, cfg);
  return new HttpClient({
    kind: "runner",
    url: "http://runner-pool.invalid",
    retries: 0, // the pool's per-attempt timeouts apply; the client's own signal is not passed on
    fetch: async (req) => {
      const url = new URL(req.url);
      const body = req.method === "POST" ? await req.json() : undefined;
      try {
        const { res } = await pool.call({
          method: req.method as "GET" | "POST",
          path: url.pathname + url.search,
          body,
        });
        return res;
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        return Response.json(errorBody(e.type, e.message, e.param), { status: e.status });
      }
    },
  });
}

/** Worth another delivery: the model could not be asked (no runner, a timeout, overload), as opposed to a
 *  refusal of this cell's input (a 4xx, or a runner's 500 on it), which is recorded as an error row. */
export function transient(e: unknown): boolean {
  if (!(e instanceof HttpError)) return true; // a network error or a bug of ours: let the platform retry
  return e.status === 0 || e.status === 429 || e.status >= 502;
}

/** A client error as the gateway's: the runner's status (503 when none answered) and what was being done. */
export function asApiError(e: unknown, doing: string): ApiError {
  if (e instanceof ApiError) return e;
  const status = e instanceof HttpError && e.status >= 400 ? e.status : 503;
  return new ApiError(status as 503, `${doing}: ${(e as Error).message}`);
}
