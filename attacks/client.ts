// The attack module's own client interface (it never imports src/): what a campaign needs from a model,
// over HTTP either straight to a runner (/v1/generate, /v1/score, /v1/tokenize) or through the gateway
// (OpenAI-compatible /v1/completions, and /v1/score, /v1/tokenize passed through). Weight attacks are
// variant names; a k sweep registers its variants through the runner's admin POST /v1/variants.
import { RateBucket, requestJson, type HttpOptions } from "./http";
import type { Variant } from "./types";

export type ScoreReq = { variant: string; context: string; continuation: string; addBos?: boolean };
export type GenReq = { variant: string; prompt: string; maxTokens: number; seed: number; addBos?: boolean };
export type Target = {
  kind: "runner" | "gateway";
  url: string;
  key?: string; // gateway API key or runner token
  model?: string; // gateway model name (default "house")
  admin?: { url: string; token: string }; // a runner's admin route, for registering variants
  rate?: number; // requests per second (0 = unlimited)
  timeoutMs?: number;
  retries?: number; // on 429/503 and network errors (default 4; 0 when the transport retries itself)
  fetch?: (req: Request) => Promise<Response>; // the transport (default: the global fetch)
};

export interface ModelClient {
  readonly target: Target;
  variants(): Promise<string[]>;
  bosToken(): Promise<string>;
  /** Top-k massive weight indices and their layer, from GET /v1/massive?k= (for k sweeps). */
  massive(k: number): Promise<{ layer: number | null; indices: number[] }>;
  /** lm-eval `loglikelihood` per request; rows with addBos false are scored without BOS. */
  loglikelihood(reqs: ScoreReq[]): Promise<{ logprob: number; tokens: number }[]>;
  rolling(
    reqs: { variant: string; text: string; addBos?: boolean }[],
  ): Promise<{ logprob: number; tokens: number }[]>;
  generate(reqs: GenReq[]): Promise<{ text: string; raw: unknown }[]>;
  registerVariant(v: Variant): Promise<void>;
  tokenize(text: string): Promise<number[]>; // without BOS
  detokenize(tokens: number[]): Promise<string>;
  /** Admin-only (the runner's gradients routes, for GCG): see gpu-runner/runner/gradients.py. */
  tokenGradients(req: {
    variant: string;
    prompt: string;
    suffix_ids: number[];
    target: string;
    top_k: number;
  }): Promise<{ loss: number; top: number[][] }>;
  suffixLosses(req: {
    variant: string;
    prompt: string;
    candidates: number[][];
    target: string;
  }): Promise<number[]>;
}

type Echo = { token_logprobs: (number | null)[] };

export class HttpClient implements ModelClient {
  private opts: HttpOptions;
  constructor(readonly target: Target) {
    this.opts = {
      bucket: new RateBucket(target.rate ?? 0),
      token: target.key,
      timeoutMs: target.timeoutMs,
      retries: target.retries,
      fetch: target.fetch,
    };
  }

  private url(path: string) {
    return this.target.url.replace(/\/$/, "") + path;
  }

  private post<T>(path: string, body: unknown): Promise<T> {
    return requestJson<T>(this.url(path), body, this.opts);
  }

  async variants(): Promise<string[]> {
    if (this.target.kind === "runner")
      return (await requestJson<{ variants: string[] }>(this.url("/health"), undefined, this.opts)).variants;
    const m = await requestJson<{ data: { id: string }[] }>(this.url("/v1/models"), undefined, this.opts);
    return m.data.flatMap((d) => (d.id.includes(":") ? [d.id.slice(d.id.indexOf(":") + 1)] : []));
  }

  async bosToken(): Promise<string> {
    const info = await requestJson<{ bos_token: string | null }>(
      this.url("/v1/tokenizer_info"),
      undefined,
      this.opts,
    );
    if (!info.bos_token) throw new Error("the model's tokenizer has no BOS token string");
    return info.bos_token;
  }

  async massive(k: number) {
    const m = await requestJson<{ massive_layer: number | null; top_k: { indices: number[] } }>(
      this.url(`/v1/massive?k=${k}`),
      undefined,
      this.opts,
    );
    return { layer: m.massive_layer, indices: m.massive_layer === null ? [] : m.top_k.indices };
  }

  async detokenize(tokens: number[]): Promise<string> {
    return (await this.post<{ text: string }>("/v1/detokenize", { tokens })).text;
  }

  private adminOpts(what: string) {
    const admin =
      this.target.admin ??
      (this.target.kind === "runner" && this.target.key
        ? { url: this.target.url, token: this.target.key }
        : undefined);
    if (!admin) throw new Error(`${what} needs the runner's admin URL and token (target.admin)`);
    return { url: admin.url.replace(/\/$/, ""), opts: { ...this.opts, token: admin.token } };
  }

  async tokenGradients(req: {
    variant: string;
    prompt: string;
    suffix_ids: number[];
    target: string;
    top_k: number;
  }) {
    const a = this.adminOpts("GCG");
    return requestJson<{ loss: number; top: number[][] }>(a.url + "/v1/gradients/token", req, a.opts);
  }

  async suffixLosses(req: { variant: string; prompt: string; candidates: number[][]; target: string }) {
    const a = this.adminOpts("GCG");
    return (await requestJson<{ losses: number[] }>(a.url + "/v1/gradients/loss", req, a.opts)).losses;
  }

  async tokenize(text: string): Promise<number[]> {
    return (await this.post<{ tokens: number[] }>("/v1/tokenize", { text, add_bos: false })).tokens;
  }

  async loglikelihood(reqs: ScoreReq[]) {
    const out: { logprob: number; tokens: number }[] = new Array(reqs.length);
    const withBos = reqs.flatMap((r, i) => (r.addBos === false ? [] : [i]));
    if (withBos.length) {
      const body = {
        requests: withBos.map((i) => ({
          variant: reqs[i].variant,
          context: reqs[i].context,
          continuation: reqs[i].continuation,
        })),
      };
      const res = await this.post<{ results: { logprob: number; tokens: number }[] }>("/v1/score", body);
      withBos.forEach(
        (i, j) => (out[i] = { logprob: res.results[j].logprob, tokens: res.results[j].tokens }),
      );
    }
    for (const [i, r] of reqs.entries()) {
      if (r.addBos !== false) continue;
      // Without BOS: score the prompt's own tokens (echo). As the runner's split_context does: the
      // continuation is the tokens of context+continuation past the context's, unless the seam merged.
      const [ctx, whole] = await Promise.all([
        this.tokenize(r.context),
        this.tokenize(r.context + r.continuation),
      ]);
      const seamKept = whole.length > ctx.length && ctx.every((t, j) => t === whole[j]);
      const ids = seamKept ? whole : [...ctx, ...(await this.tokenize(r.continuation))];
      const n = ids.length - ctx.length;
      if (n < 1) throw new Error(`continuation ${JSON.stringify(r.continuation)} encodes to no tokens`);
      const res = await this.post<{ results: Echo[] }>("/v1/score", {
        echo: [{ variant: r.variant, prompt: ids, add_bos: false }],
      });
      const lps = res.results[0].token_logprobs.slice(-n);
      out[i] = { logprob: lps.reduce<number>((s, x) => s + (x ?? 0), 0), tokens: n };
    }
    return out;
  }

  async rolling(reqs: { variant: string; text: string; addBos?: boolean }[]) {
    const out = await Promise.all(
      reqs.map(async (r) => {
        if (r.addBos !== false) return null;
        // Without BOS: the prompt's own token log-probabilities (echo); the first token has none.
        const res = await this.post<{ results: Echo[] }>("/v1/score", {
          echo: [{ variant: r.variant, prompt: r.text, add_bos: false }],
        });
        const lps = res.results[0].token_logprobs.filter((x): x is number => x !== null);
        return { logprob: lps.reduce((s, x) => s + x, 0), tokens: lps.length };
      }),
    );
    const withBos = reqs.flatMap((r, i) => (r.addBos === false ? [] : [i]));
    if (withBos.length) {
      const rolling = withBos.map((i) => ({ variant: reqs[i].variant, text: reqs[i].text }));
      const res = await this.post<{ results: { logprob: number; tokens: number }[] }>("/v1/score", {
        rolling,
      });
      withBos.forEach((i, j) => (out[i] = res.results[j]));
    }
    return out as { logprob: number; tokens: number }[];
  }

  async generate(reqs: GenReq[]) {
    if (this.target.kind === "runner") {
      const body = {
        requests: reqs.map((r) => ({
          variant: r.variant,
          prompt: r.prompt,
          max_tokens: r.maxTokens,
          temperature: 0,
          seed: r.seed,
          add_bos: r.addBos !== false,
        })),
      };
      const res = await this.post<{ results: { text: string; finish_reason: string; usage: unknown }[] }>(
        "/v1/generate",
        body,
      );
      return res.results.map((x) => ({
        text: x.text,
        raw: { finish_reason: x.finish_reason, usage: x.usage },
      }));
    }
    const model = this.target.model ?? "house";
    return Promise.all(
      reqs.map(async (r) => {
        // The gateway adds BOS to text prompts; without BOS the prompt goes as token ids.
        const prompt = r.addBos === false ? await this.tokenize(r.prompt) : r.prompt;
        const res = await this.post<{ choices: { text: string; finish_reason: string }[]; usage: unknown }>(
          "/v1/completions",
          {
            model: `${model}:${r.variant}`,
            prompt,
            max_tokens: r.maxTokens,
            temperature: 0,
            seed: r.seed,
          },
        );
        return {
          text: res.choices[0].text,
          raw: { finish_reason: res.choices[0].finish_reason, usage: res.usage },
        };
      }),
    );
  }

  async registerVariant(v: Variant): Promise<void> {
    const admin =
      this.target.admin ??
      (this.target.kind === "runner" && this.target.key
        ? { url: this.target.url, token: this.target.key }
        : undefined);
    if (!admin)
      throw new Error(
        `registering variant "${v.name}" needs the runner's admin URL and token (target.admin)`,
      );
    const opts = { ...this.opts, token: admin.token };
    const known = (
      await requestJson<{ variants: string[] }>(admin.url.replace(/\/$/, "") + "/health", undefined, opts)
    ).variants;
    if (known.includes(v.name)) return; // registered by an earlier (resumed) run of the same campaign
    await requestJson(admin.url.replace(/\/$/, "") + "/v1/variants", v, opts);
  }
}
