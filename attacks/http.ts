// JSON over HTTP for the attack clients: one token bucket per target (requests per second), retries on 429
// and 503 that honour Retry-After (capped), and errors that carry the server's own message.

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** A token bucket shared by every request to one target; a 429 pauses the whole bucket, not one caller. */
export class RateBucket {
  private tokens: number;
  private last = Date.now();
  private pausedUntil = 0;
  constructor(
    readonly perSecond: number, // 0 = unlimited
    readonly burst = Math.max(1, perSecond),
  ) {
    this.tokens = burst;
  }

  pause(ms: number) {
    this.pausedUntil = Math.max(this.pausedUntil, Date.now() + ms);
  }

  async take(): Promise<void> {
    for (;;) {
      const now = Date.now();
      if (now < this.pausedUntil) {
        await sleep(this.pausedUntil - now);
        continue;
      }
      if (this.perSecond <= 0) return;
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
      this.last = now;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      await sleep(((1 - this.tokens) / this.perSecond) * 1000);
    }
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type HttpOptions = {
  bucket: RateBucket;
  token?: string;
  timeoutMs?: number; // per attempt
  retries?: number; // on 429/503 and network errors
  retryCapMs?: number; // longest Retry-After honoured
  fetch?: (req: Request) => Promise<Response>; // the transport (default: the global fetch); the gateway passes its runner pool
};

/** Retry-After in ms (seconds or an HTTP date), bounded by cap; a default backoff when absent. */
export function retryAfterMs(header: string | null, attempt: number, cap: number): number {
  const secs = header === null ? NaN : Number(header);
  if (Number.isFinite(secs)) return Math.min(cap, Math.max(0, secs * 1000));
  const date = header === null ? NaN : Date.parse(header);
  if (Number.isFinite(date)) return Math.min(cap, Math.max(0, date - Date.now()));
  return Math.min(cap, 250 * 2 ** attempt);
}

export async function requestJson<T>(
  url: string,
  body: unknown,
  opts: HttpOptions,
  method = body === undefined ? "GET" : "POST",
): Promise<T> {
  const { retries = 4, timeoutMs = 120_000, retryCapMs = 30_000 } = opts;
  for (let attempt = 0; ; attempt++) {
    await opts.bucket.take();
    let res: Response;
    try {
      res = await (opts.fetch ?? fetch)(
        new Request(url, {
          method,
          headers: {
            "content-type": "application/json",
            ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(timeoutMs),
        }),
      );
    } catch (e) {
      if (attempt >= retries) throw new HttpError(0, `${method} ${url}: ${(e as Error).message}`);
      await sleep(retryAfterMs(null, attempt, retryCapMs));
      continue;
    }
    if ((res.status === 429 || res.status === 503) && attempt < retries) {
      const wait = retryAfterMs(res.headers.get("retry-after"), attempt, retryCapMs);
      opts.bucket.pause(wait);
      await res.body?.cancel();
      continue;
    }
    const text = await res.text();
    if (!res.ok) {
      let msg = text.slice(0, 500);
      try {
        msg = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? msg;
      } catch {
        // not JSON: keep the text
      }
      throw new HttpError(res.status, `${method} ${url} -> ${res.status}: ${msg}`);
    }
    return JSON.parse(text) as T;
  }
}
