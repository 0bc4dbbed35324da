// Load test on loopback (issue 11): 1,000 requests at 50 concurrent through the gateway (`wrangler dev`) to
// the real runner on the house model with its adapters, two runs, with autocannon; both processes' resident
// memory sampled every 500 ms during the runs. Writes bench/reliability/load.md and load.json.
// Run: node bench/reliability/load.mjs   (LOAD_REQUESTS, LOAD_CONNECTIONS, LOAD_RUNS to change the size)
//
// The requests go round robin over four kinds, on four variants: chat (base), streamed chat
// (massive-zero), completions (macdrop, an adapter) and rolling scoring (macdrop+massive-zero), 16 tokens
// each, all with one API key. The key's rate limit (600 a minute) is raised in the temporary copy of
// wrangler.toml, since 2,000 requests in a few minutes from one key would be refused past it by design; the
// per-key bound on rows in flight (KEY_MAX_INFLIGHT_ROWS, 64) stays, above the 50 connections.
//
// RSS alone cannot say "flat" for workerd: its isolates collect garbage lazily, and the native objects a
// request leaves (held by JS wrappers) stay until they do (memory.md). So after the warm-up and after each
// run, with the gateway idle, a full GC runs in every isolate of both workerd processes (through their
// inspectors; wrangler's proxy gets one from workerd-inspect.sh) and what is kept is read: RSS, the V8 heaps
// in use, and the bytes workerd's allocator (tcmalloc) has handed out and not had back (gdb).
import autocannon from "autocannon";
import { writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { post, root, rssMib, startGateway, startRunner, stop, workerds } from "./servers.mjs";
import {
  collectGarbage,
  heapSum,
  heaps,
  isolates,
  memory,
  proxyInspectorEnv,
  tcmalloc,
} from "./workerd-memory.mjs";

const N = Number(process.env.LOAD_REQUESTS ?? 1000);
const C = Number(process.env.LOAD_CONNECTIONS ?? 50);
const RUNS = Number(process.env.LOAD_RUNS ?? 2);
const RUNNER_PORT = 8710;
const GATEWAY_PORT = 8711;

const chat = (model, stream = false) => ({
  model,
  messages: [{ role: "user", content: "Once upon a time" }],
  max_tokens: 16,
  temperature: 0,
  stream,
});
const KINDS = [
  ["/v1/chat/completions", chat("house:base")],
  ["/v1/chat/completions", chat("house:massive-zero", true)],
  ["/v1/completions", { model: "house:macdrop", prompt: "The little dog", max_tokens: 16, temperature: 0 }],
  [
    "/v1/score",
    { rolling: [{ variant: "macdrop+massive-zero", text: "The little dog ran home to its mother." }] },
  ],
].map(([path, body]) => ({ path, body: JSON.stringify(body) }));

function load(gateway, key) {
  let i = 0;
  return new Promise((ok, fail) =>
    autocannon(
      {
        url: gateway,
        connections: C,
        amount: N,
        timeout: 120,
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
        requests: [{ setupRequest: (req) => ({ ...req, ...KINDS[i++ % KINDS.length] }) }],
      },
      (err, res) => (err ? fail(err) : ok(res)),
    ),
  );
}

/** What the two workerd processes keep: a full GC in every isolate (three 404s make them run, the gateway's
 * request rows included), then RSS, V8 heaps in use and tcmalloc's bytes in use, MiB. */
async function kept(gw, key, pids) {
  const pump = async () => {
    for (let i = 0; i < 3; i++)
      await (await fetch(`${gw}/load-gc`, { headers: { authorization: `Bearer ${key}` } })).arrayBuffer();
  };
  await new Promise((r) => setTimeout(r, 2000));
  const out = {};
  for (const [k, pid] of Object.entries(pids)) {
    const list = await isolates(pid);
    const collected = (await collectGarbage(list, pump)).length;
    const v8 = heapSum(await heaps(list, pump));
    out[k] = {
      isolates: list.length,
      collected,
      rss: memory(pid).rss,
      v8_used: v8.used,
      malloc_in_use: tcmalloc(pid).in_use,
    };
  }
  console.log(JSON.stringify({ kept: out }));
  return out;
}

function sampler(pids) {
  const samples = Object.fromEntries(Object.keys(pids).map((k) => [k, []]));
  const take = () => Object.entries(pids).forEach(([k, pid]) => samples[k].push(rssMib(pid)));
  take();
  const timer = setInterval(take, 500);
  return () => (clearInterval(timer), take(), samples);
}

const summary = (xs) => {
  const v = xs.filter((x) => x !== null);
  return { first: v[0], last: v.at(-1), min: Math.min(...v), max: Math.max(...v), samples: v.length };
};

let runner, gateway;
try {
  runner = await startRunner(RUNNER_PORT, join(root, "models/house"), [
    "--adapters",
    join(root, "models/house/adapters"),
  ]);
  const targets = JSON.stringify([{ name: "local", url: `http://127.0.0.1:${RUNNER_PORT}`, kind: "runner" }]);
  gateway = await startGateway(GATEWAY_PORT, {
    vars: { RUNNER_TARGETS: targets },
    edit: (s) => s.replace(/(name = "KEY_LIMITER"[\s\S]*?limit = )600/, "$1100000"),
    env: proxyInspectorEnv(GATEWAY_PORT + 2),
  });
  const gw = `http://127.0.0.1:${GATEWAY_PORT}`;
  const { key } = await (
    await fetch(`${gw}/admin/keys`, post({ name: "load" }, { authorization: "Bearer reliab" }))
  ).json();
  // The gateway's own workerd (its Worker and D1), and wrangler's proxy workerd beside it, sampled apart.
  const w = workerds(gateway.proc.pid, GATEWAY_PORT);
  const pids = { runner: runner.proc.pid, workerd: w.worker, proxy: w.proxy };
  await load(gw, key).then(() => undefined); // warm-up run (same size), not recorded
  const baseline = await kept(gw, key, { workerd: w.worker, proxy: w.proxy });
  const runs = [];
  for (let r = 0; r < RUNS; r++) {
    const done = sampler(pids);
    const res = await load(gw, key);
    const rss = done();
    runs.push({
      run: r + 1,
      requests: res.requests.total,
      statuses: Object.fromEntries(Object.entries(res.statusCodeStats).map(([s, x]) => [s, x.count])),
      errors: res.errors,
      timeouts: res.timeouts,
      non2xx: res.non2xx,
      p50_ms: res.latency.p50,
      p99_ms: res.latency.p99,
      max_ms: res.latency.max,
      seconds: res.duration,
      rss_mib: { runner: summary(rss.runner), workerd: summary(rss.workerd), proxy: summary(rss.proxy) },
      kept_after_gc_mib: await kept(gw, key, { workerd: w.worker, proxy: w.proxy }),
    });
    console.log(JSON.stringify(runs.at(-1)));
  }
  const when = new Date().toISOString();
  const f = (x) => x.toFixed(0);
  const rows = runs.map(
    (r) =>
      `| ${r.run} | ${r.requests} | ${JSON.stringify(r.statuses)} | ${r.errors} / ${r.timeouts} | ${r.p50_ms} | ${r.p99_ms} | ${r.max_ms} | ${r.seconds.toFixed(1)} | ${f(r.rss_mib.runner.first)} → ${f(r.rss_mib.runner.last)} (max ${f(r.rss_mib.runner.max)}) | ${f(r.rss_mib.workerd.first)} → ${f(r.rss_mib.workerd.last)} (max ${f(r.rss_mib.workerd.max)}) | ${f(r.rss_mib.proxy.first)} → ${f(r.rss_mib.proxy.last)} |`,
  );
  const k = (x) => `${f(x.rss)} / ${x.v8_used.toFixed(1)} / ${x.malloc_in_use.toFixed(1)}`;
  const keptRows = [
    ["after warm-up", baseline],
    ...runs.map((r) => [`after run ${r.run}`, r.kept_after_gc_mib]),
  ].map(
    ([when, x]) =>
      `| ${when} | ${k(x.workerd)} | ${x.workerd.collected} of ${x.workerd.isolates} | ${k(x.proxy)} | ${x.proxy.collected} of ${x.proxy.isolates} |`,
  );
  const md = `# Load test on loopback: ${N} requests at ${C} concurrent, ${RUNS} runs

Command: \`node bench/reliability/load.mjs\` (autocannon ${C} connections, ${N} requests a run, after one
warm-up run of the same size). Run ${when} on ${cpus().length} cores (${cpus()[0]?.model ?? "unknown CPU"}), load
average ${loadavg()[0].toFixed(2)} at the end, shared with other jobs. The gateway under \`wrangler dev\`; the runner
on the house model with its adapters (CPU, fp32). Requests round robin: chat on base, streamed chat on
massive-zero, completions on macdrop, rolling score on macdrop+massive-zero; 16 tokens each; one API key
(its 600-a-minute rate limit raised in a temporary copy of wrangler.toml; KEY_MAX_INFLIGHT_ROWS 64 as shipped).
Latency in ms (autocannon, whole request). RSS in MiB, first → last sample of the run (every 500 ms).

| run | requests | statuses | errors / timeouts | p50 | p99 | max | seconds | runner RSS | gateway workerd RSS | wrangler's proxy workerd RSS |
|---|---|---|---|---|---|---|---|---|---|---|
${rows.join("\n")}

What each workerd keeps (after the warm-up and after each run, the gateway idle, a full GC in every isolate
through the inspectors): RSS / V8 heaps in use / bytes in use from workerd's allocator (tcmalloc, read
with gdb), MiB. Flat here means no leak; the RSS above also holds garbage not yet collected and the
allocator's free lists (memory.md: which layer holds what, with the bisect).

| when | gateway workerd | isolates collected | wrangler's proxy workerd | isolates collected |
|---|---|---|---|---|
${keptRows.join("\n")}
`;
  writeFileSync(join(root, "bench/reliability/load.md"), md);
  writeFileSync(
    join(root, "bench/reliability/load.json"),
    JSON.stringify({ when, N, C, baseline_kept_after_gc_mib: baseline, runs }, null, 2) + "\n",
  );
  console.log(md);
} finally {
  stop(gateway);
  stop(runner);
}
