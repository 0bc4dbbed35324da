// The latency the gateway adds over calling the runner directly: p50 and p99 at 1 and 10 concurrent clients.
// Run: npm run bench:gateway   (writes bench/gateway/results.md and results.json)
//
// The runner here is a stub HTTP server that answers POST /v1/generate at once with a canned result, so the
// difference between "direct" (the stub's /v1/generate) and "gateway" (POST /v1/chat/completions with an API
// key: auth, rate limit, validation, translation, the runner hop and the D1 record) is the gateway's own cost,
// not the model's. The gateway runs in workerd two ways: Miniflare serving the bundle that `wrangler deploy
// --dry-run` builds (workerd alone), and `wrangler dev` (which adds its local proxy). A Worker that only
// answers "ok" in Miniflare gives the floor of workerd itself on this machine. Latency is timed per request
// in this client with performance.now() over keep-alive connections (autocannon reports whole milliseconds,
// too coarse for a sub-millisecond target). The rate limits are raised in a temporary copy of wrangler.toml.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Miniflare } from "miniflare";

const root = resolve(import.meta.dirname, "../..");
const N = Number(process.env.BENCH_REQUESTS ?? 2000);
const WARMUP = 300;

const result = {
  index: 0,
  variant: "base",
  text: "Hello there",
  tokens: [1, 2],
  finish_reason: "stop",
  usage: { prompt_tokens: 5, completion_tokens: 2 },
  timing_ms: { queue: 0, prefill: 0, decode: 0, total: 0 },
};
const canned = JSON.stringify({ results: [result] });
const health = JSON.stringify({ status: "ok", model: { id: "stub" }, variants: ["base", "massive-zero"] });

function stubRunner() {
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(req.url === "/health" ? health : canned);
    });
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok(server)));
}

function freePort() {
  return new Promise((ok) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

async function waitFor(url, ms) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not come up`);
}

async function load(url, init, concurrency, n) {
  const times = [];
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      const t = performance.now();
      const res = await fetch(url, init);
      await res.arrayBuffer();
      times.push(performance.now() - t);
      if (!res.ok) failed++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const secs = (performance.now() - started) / 1000;
  times.sort((a, b) => a - b);
  const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
  return { n: times.length, failed, p50: q(0.5), p99: q(0.99), rps: times.length / secs };
}

const stub = await stubRunner();
const runnerUrl = `http://127.0.0.1:${stub.address().port}`;
const targets = JSON.stringify([{ name: "stub", url: runnerUrl }]);
// Temporary copies of wrangler.toml with the rate limits raised: one for `wrangler dev`, and one with the
// container image as a registry path for the dry-run build (building the image itself would need Docker).
const raised = readFileSync(join(root, "wrangler.toml"), "utf8").replace(/limit = \d+/g, "limit = 100000000");
const config = join(root, ".wrangler-bench.toml");
const buildConfig = join(root, ".wrangler-bench-build.toml");
writeFileSync(config, raised);
writeFileSync(
  buildConfig,
  raised
    .replace(/^image = .*$/m, 'image = "registry.cloudflare.com/house-gateway/runner:latest"')
    .replace(/^image_build_context.*$/m, "")
    .replace(/^image_vars.*$/m, ""),
);
const state = mkdtempSync(join(tmpdir(), "house-bench-"));
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" };
const wrangler = join(root, "node_modules/.bin/wrangler");
const run = (args) => {
  const r = spawnSync(wrangler, args, { cwd: root, env, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`wrangler ${args.join(" ")}:\n${r.stdout}\n${r.stderr}`);
};
const chat = {
  model: "house:base",
  messages: [{ role: "user", content: "Hello" }],
  max_tokens: 8,
  temperature: 0,
};
const generate = {
  requests: [{ variant: "base", messages: chat.messages, max_tokens: 8, temperature: 0, top_p: 1 }],
  stream: false,
};
const post = (body, headers = {}) => ({
  method: "POST",
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
});

async function gatewayCells(gateway) {
  const { key } = await (
    await fetch(`${gateway}/admin/keys`, post({ name: "bench" }, { authorization: "Bearer bench" }))
  ).json();
  const init = post(chat, { authorization: `Bearer ${key}` });
  await load(`${gateway}/v1/chat/completions`, init, 4, WARMUP);
  return Object.fromEntries(
    await seq([1, 10], async (c) => [c, await load(`${gateway}/v1/chat/completions`, init, c, N)]),
  );
}
async function seq(xs, f) {
  const out = [];
  for (const x of xs) out.push(await f(x));
  return out;
}

let devProc;
const miniflares = [];
try {
  // workerd floor: a Worker that answers "ok".
  const floorMf = new Miniflare({
    modules: true,
    script: 'export default { fetch: () => new Response("ok") }',
    compatibilityDate: "2026-04-20",
    host: "127.0.0.1",
    port: 0,
  });
  miniflares.push(floorMf);
  const floorUrl = (await floorMf.ready).href;
  await load(floorUrl, {}, 4, WARMUP);
  const floor = Object.fromEntries(await seq([1, 10], async (c) => [c, await load(floorUrl, {}, c, N)]));

  const direct = post(generate);
  await load(`${runnerUrl}/v1/generate`, direct, 4, WARMUP);
  const directCells = Object.fromEntries(
    await seq([1, 10], async (c) => [c, await load(`${runnerUrl}/v1/generate`, direct, c, N)]),
  );

  // The gateway in workerd: the deploy bundle in Miniflare, with D1 (migrations applied) and the rate limiters.
  const out = join(root, "dist");
  run(["deploy", "--dry-run", "-c", buildConfig, "--outdir", out]);
  run(["d1", "migrations", "apply", "DB", "--local", "-c", config, "--persist-to", join(state, "mf")]);
  const mf = new Miniflare({
    modules: true,
    scriptPath: "dist/index.js", // relative: workerd refuses module paths that climb out of its root
    compatibilityDate: "2026-04-20",
    compatibilityFlags: ["nodejs_compat"],
    host: "127.0.0.1",
    port: 0,
    bindings: {
      ...Object.fromEntries(Object.entries(JSON.parse(JSON.stringify(varsOf(config))))),
      RUNNER_TARGETS: targets,
      ADMIN_TOKEN: "bench",
    },
    d1Databases: { DB: "00000000-0000-0000-0000-000000000000" },
    d1Persist: join(state, "mf", "v3", "d1"),
    ratelimits: {
      DEMO_LIMITER: { simple: { limit: 1e9, period: 60 } },
      KEY_LIMITER: { simple: { limit: 1e9, period: 60 } },
    },
  });
  miniflares.push(mf);
  const inWorkerd = await gatewayCells((await mf.ready).origin);

  // The gateway under `wrangler dev`, as `npm start` runs it.
  run(["d1", "migrations", "apply", "DB", "--local", "-c", config, "--persist-to", join(state, "dev")]);
  const port = await freePort();
  devProc = spawn(
    wrangler,
    [
      "dev",
      "-c",
      config,
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--persist-to",
      join(state, "dev"),
      "--var",
      `RUNNER_TARGETS:${targets}`,
      "--var",
      "ADMIN_TOKEN:bench",
      "--enable-containers=false",
      "--show-interactive-dev-session=false",
      "--log-level",
      "error",
      "--inspector-port",
      String(await freePort()),
    ],
    { cwd: root, env, detached: true, stdio: "ignore" },
  );
  await waitFor(`http://127.0.0.1:${port}/health`, 90_000);
  const underDev = await gatewayCells(`http://127.0.0.1:${port}`);

  const f = (x) => x.toFixed(3);
  const rows = [];
  const lines = [];
  for (const c of [1, 10]) {
    const d = directCells[c];
    for (const [name, g] of [
      ["workerd floor (empty Worker)", floor[c]],
      ["gateway in workerd (Miniflare)", inWorkerd[c]],
      ["gateway under wrangler dev", underDev[c]],
    ]) {
      rows.push({
        clients: c,
        setup: name,
        direct: d,
        measured: g,
        added_p50_ms: g.p50 - d.p50,
        added_p99_ms: g.p99 - d.p99,
      });
      lines.push(
        `| ${c} | ${name} | ${f(d.p50)} / ${f(d.p99)} | ${f(g.p50)} / ${f(g.p99)} | **${f(g.p50 - d.p50)}** | ${f(g.p99 - d.p99)} | ${g.rps.toFixed(0)} | ${g.failed} |`,
      );
    }
  }
  const table = [
    "| clients | setup | direct p50 / p99 | measured p50 / p99 | added p50 | added p99 | req/s | failed |",
    "|---|---|---|---|---|---|---|---|",
    ...lines,
  ].join("\n");
  const when = new Date().toISOString();
  const md = `# Gateway overhead benchmark

Command: \`npm run bench:gateway\` (bench/gateway/run.mjs): ${N} requests per cell after ${WARMUP} warm-up
requests, timed per request in the client. Run ${when} on ${cpus().length} CPU cores (${cpus()[0]?.model ?? "unknown CPU"}),
Node ${process.version}, load average ${loadavg()[0].toFixed(2)} at the end, everything on loopback. Milliseconds.

- direct: POST /v1/generate on a stub runner (Node HTTP) that answers at once.
- gateway: POST /v1/chat/completions with an API key through the gateway to that stub (key lookup, rate-limit
  binding, validation, translation, the runner hop, the D1 record via waitUntil).
- workerd floor: an empty Worker answering "ok" in Miniflare: what workerd alone costs here over Node HTTP.
- added = measured minus direct at the same percentile. Target: added p50 under 1 ms at 1 client.

${table}

Reading: the gateway's own code (key, rate limit, validation, translation, the hop to the runner and the D1
record) costs the difference between the "gateway in workerd" and "workerd floor" rows; \`wrangler dev\` adds its
local proxy on top. Client, gateway, D1 and stub share ${cpus().length} cores here, which inflates everything at 10 clients.
`;
  writeFileSync(join(root, "bench/gateway/results.md"), md);
  writeFileSync(
    join(root, "bench/gateway/results.json"),
    JSON.stringify({ when, requests: N, rows }, null, 2) + "\n",
  );
  console.log(md);
} finally {
  if (devProc?.pid) {
    try {
      process.kill(-devProc.pid, "SIGTERM");
    } catch {}
  }
  for (const mf of miniflares) await mf.dispose();
  stub.close();
  stub.closeAllConnections?.();
  rmSync(config, { force: true });
  rmSync(buildConfig, { force: true });
  rmSync(state, { recursive: true, force: true });
}

/** The [vars] of a wrangler.toml, read plainly (string values on one line each). */
function varsOf(path) {
  const text = readFileSync(path, "utf8");
  const section = text.slice(text.indexOf("[vars]") + 6, text.indexOf("\n[[", text.indexOf("[vars]")));
  const vars = {};
  for (const line of section.split("\n")) {
    const m = /^([A-Z_]+)\s*=\s*(['"])(.*)\2\s*$/.exec(line.trim());
    if (m) vars[m[1]] = m[3];
  }
  return vars;
}
