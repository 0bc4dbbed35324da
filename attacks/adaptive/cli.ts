// Runs one adaptive attack and prints its result as JSON (suffix ids and text, the loss or log-prob history):
//   npm run attack:adaptive -- --method gcg|random-search --url http://127.0.0.1:8100 --admin-token TOKEN \
//     --prompt "The Debian package manager is called" --target " apt" [--variant massive-zero] [--steps 20]
// --kind gateway --key KEY sends random search through the gateway (GCG needs the runner's admin routes).
import { parseArgs } from "node:util";
import { HttpClient } from "../client";
import { gcg } from "./gcg";
import { randomSearch } from "./random-search";

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    options: {
      method: { type: "string", default: "random-search" },
      url: { type: "string", default: "http://127.0.0.1:8100" },
      kind: { type: "string", default: "runner" },
      key: { type: "string" },
      "admin-token": { type: "string" },
      variant: { type: "string", default: "base" },
      prompt: { type: "string" },
      target: { type: "string" },
      steps: { type: "string" },
      seed: { type: "string", default: "0" },
    },
  });
  if (!v.prompt || !v.target) throw new Error("--prompt and --target are required");
  if (v.kind !== "runner" && v.kind !== "gateway") throw new Error("--kind must be runner or gateway");
  const steps = v.steps === undefined ? undefined : Number(v.steps);
  const seed = Number(v.seed);
  if ((steps !== undefined && !(steps >= 1)) || !Number.isInteger(seed))
    throw new Error("--steps and --seed must be whole numbers");
  const client = new HttpClient({
    kind: v.kind,
    url: v.url!,
    key: v.key,
    admin: v["admin-token"] ? { url: v.url!, token: v["admin-token"] } : undefined,
  });
  const base = { variant: v.variant!, prompt: v.prompt, target: v.target, seed };
  const t0 = Date.now();
  const res =
    v.method === "gcg"
      ? await gcg(client, { ...base, steps })
      : v.method === "random-search"
        ? await randomSearch(client, { ...base, iterations: steps })
        : (() => {
            throw new Error("--method must be gcg or random-search");
          })();
  console.log(
    JSON.stringify({ method: v.method, ...base, ...res, seconds: (Date.now() - t0) / 1000 }, null, 1),
  );
}

main().catch((e) => {
  console.error(`attack:adaptive: ${(e as Error).message}`);
  process.exit(1);
});
