// Runner targets from configuration (RUNNER_TARGETS, a JSON array), and the fetcher that reaches each one:
// a service binding when one is bound (tests), the Container binding for a CPU runner, else plain fetch by URL.
import { getContainer } from "@cloudflare/containers";
import type { Bindings } from "../env";

export type Target = {
  name: string;
  url: string; // origin (and optional path prefix) of the runner, e.g. https://gpu-1.example.com
  kind: "runner" | "openai"; // our runner (gpu-runner/API.md) or an OpenAI-compatible engine (vLLM multi-LoRA)
  models?: Record<string, string>; // kind "openai": variant -> the engine's model name
  secret?: string; // name of the secret sent as Bearer token (default RUNNER_TOKEN for runners)
  container?: boolean; // reach it through the RUNNER_CONTAINER Durable Object (a Cloudflare Container)
};

export type Fetch = (req: Request) => Promise<Response>;

export function parseTargets(raw: string | undefined, name: string): Target[] {
  let v: unknown;
  try {
    v = JSON.parse(raw ?? "");
  } catch (e) {
    throw new Error(
      `configuration: ${name} must be a JSON array of {name, url, kind}: ${(e as Error).message}`,
    );
  }
  if (!Array.isArray(v) || v.length === 0)
    throw new Error(`configuration: ${name} must list at least one target`);
  return v.map((t, i) => {
    const where = `configuration: ${name}[${i}]`;
    if (!t || typeof t !== "object") throw new Error(`${where} must be an object`);
    const kind = t.kind ?? "runner";
    if (kind !== "runner" && kind !== "openai") throw new Error(`${where}.kind must be "runner" or "openai"`);
    if (!t.container && (typeof t.url !== "string" || !/^https?:\/\//.test(t.url)))
      throw new Error(`${where}.url must be an http(s) URL, got ${JSON.stringify(t.url)}`);
    if (kind === "openai" && (typeof t.models !== "object" || !t.models))
      throw new Error(`${where}.models must map each variant to the engine's model name`);
    return {
      name: typeof t.name === "string" ? t.name : `target-${i}`,
      url: (t.url ?? "http://container").replace(/\/+$/, ""),
      kind,
      models: t.models,
      secret: t.secret,
      container: Boolean(t.container),
    };
  });
}

export function fetcherFor(env: Bindings, target: Target): Fetch {
  if (target.container) {
    const ns = env.RUNNER_CONTAINER as unknown as Parameters<typeof getContainer>[0];
    return (req) => getContainer(ns).fetch(req);
  }
  if (env.RUNNER) {
    const binding = env.RUNNER;
    return (req) => binding.fetch(req);
  }
  return (req) => fetch(req);
}

export function tokenFor(env: Bindings, target: Target): string | undefined {
  const v = env[target.secret ?? (target.kind === "runner" ? "RUNNER_TOKEN" : "")];
  return typeof v === "string" && v ? v : undefined;
}
