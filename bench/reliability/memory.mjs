// Whose memory grows when the gateway runs locally? A bisect of the layers between a request and the Worker
// (bench/reliability/memory.md has the figures and the reading): the same requests to a hello-world Worker
// or to the gateway, hosted by each layer in turn, with the workerd processes' memory read after each batch.
//
//   workerd    bare `workerd serve` with a small capnp config (no wrangler, no Miniflare; hello only)
//   miniflare  Miniflare's API in this process (`new Miniflare(...)`, its HTTP port; hello only);
//              MEM_INSPECTOR=1 adds an inspector port
//   wrangler   `wrangler dev` as servers.mjs starts it (the load test's), MEM_WRANGLER_ARGS added to its flags
//
// Run: node bench/reliability/memory.mjs <workerd|miniflare|wrangler> <hello|gateway>
//   MEM_REQUESTS (10000), MEM_CONCURRENCY (8), MEM_BATCH (1000), MEM_LABEL (the output's name),
//   MEM_GC (end: a full GC in every isolate after the last batch; every: after each), MEM_TCMALLOC=1
//   (tcmalloc's account, with gdb, first and last), MEM_HOLD (seconds to keep the servers up at the end).
//   For wrangler's proxy workerd's V8 figures too: MINIFLARE_WORKERD_PATH=$PWD/bench/reliability/
//   workerd-inspect.sh WORKERD_PROXY_INSPECTOR=127.0.0.1:8772.
// After each batch and 2 s idle, per workerd process (workerd-memory.mjs): RSS, anonymous and file-backed
// memory, its isolates' V8 heaps (where it has an inspector), MiB. Writes bench/reliability/memory/<label>.json.
import autocannon from "autocannon";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { collectGarbage, heapSum, heaps, isolates, memory, tcmalloc } from "./workerd-memory.mjs";
import { descendants, root, post, startGateway, stop, waitFor, workerds } from "./servers.mjs";

const [mode, worker] = process.argv.slice(2);
const N = Number(process.env.MEM_REQUESTS ?? 10000);
const C = Number(process.env.MEM_CONCURRENCY ?? 8);
const BATCH = Number(process.env.MEM_BATCH ?? 1000);
const LABEL = process.env.MEM_LABEL ?? `${mode}-${worker}${process.env.MEM_INSPECTOR ? "-inspector" : ""}`;
const PORT = 8720;
const workerdBin = join(root, "node_modules/@cloudflare/workerd-linux-64/bin/workerd");
const HELLO = "export default { fetch: () => new Response('hello'), queue() {} };\n";
const HELLO_DO = "export class RunnerContainer { fetch() { return new Response('hello'); } }\n";
if (!["workerd", "miniflare", "wrangler"].includes(mode) || !["hello", "gateway"].includes(worker))
  throw new Error("usage: memory.mjs <workerd|miniflare|wrangler> <hello|gateway>");

// Each layer starts the Worker and answers { url, pids: {name: pid}, headers, close }.
async function startWorkerd() {
  if (worker !== "hello") throw new Error("bare workerd runs the hello-world Worker only");
  const dir = mkdtempSync(join(tmpdir(), "house-mem-"));
  writeFileSync(join(dir, "hello.mjs"), HELLO);
  writeFileSync(
    join(dir, "hello.capnp"),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .hello)],
  sockets = [(name = "http", address = "127.0.0.1:${PORT}", http = (), service = "main")],
);
const hello :Workerd.Worker = (
  modules = [(name = "worker.mjs", esModule = embed "hello.mjs")],
  compatibilityDate = "2026-04-20",
);
`,
  );
  // (with an inspector, for the V8 figures: no client stays attached; Miniflare grew alike with or without)
  const args = ["serve", join(dir, "hello.capnp"), `--inspector-addr=127.0.0.1:${PORT + 1}`];
  const proc = spawn(workerdBin, args, { stdio: "inherit", detached: true });
  const url = `http://127.0.0.1:${PORT}`;
  await waitFor(url, 30_000, { proc, log: () => "" });
  return { url, pids: { workerd: proc.pid }, close: () => (proc.kill(), rmSync(dir, { recursive: true })) };
}

async function startMiniflare() {
  // (hello only: the gateway needs wrangler's bundling, assets and bindings, i.e. `wrangler dev`)
  if (worker !== "hello") throw new Error("Miniflare runs the hello-world Worker only");
  const { Miniflare } = await import("miniflare");
  const options = {
    host: "127.0.0.1",
    port: PORT,
    modules: true,
    script: HELLO,
    compatibilityDate: "2026-04-20",
  };
  if (process.env.MEM_INSPECTOR) options.inspectorPort = PORT + 1;
  const mf = new Miniflare(options);
  const url = String(await mf.ready).replace(/\/$/, "");
  return {
    url,
    pids: Object.fromEntries(
      descendants(process.pid, "workerd").map((p, i) => [i ? `workerd${i}` : "workerd", p]),
    ),
    close: () => mf.dispose(),
  };
}

/** The fake runner (test/fixtures/fake-runner.mjs, bundled for Node) on loopback: the gateway's /health is
 * 200 only once a runner answers, and the bench's requests never reach it. Answers its close(). */
async function fakeRunner(port) {
  const { build } = await import("esbuild");
  const out = join(root, "build/bench-fake-runner.mjs");
  await build({
    entryPoints: [join(root, "test/fixtures/fake-runner.mjs")],
    outfile: out,
    bundle: true,
    format: "esm",
  });
  const fake = (await import(pathToFileURL(out))).default;
  const server = createServer(async (req, res) => {
    const answer = await fake.fetch(new Request(`http://ok.runner${req.url}`, { method: req.method }));
    res.writeHead(answer.status, Object.fromEntries(answer.headers));
    res.end(Buffer.from(await answer.arrayBuffer()));
  });
  await new Promise((ok) => server.listen(port, "127.0.0.1", ok));
  return () => server.close();
}

async function startWrangler() {
  const hello = join(root, "build/bench-mem-hello.mjs");
  writeFileSync(hello, HELLO_DO + HELLO);
  const extra = (process.env.MEM_WRANGLER_ARGS ?? "").split(/\s+/).filter(Boolean);
  const closeRunner = worker === "gateway" ? await fakeRunner(PORT + 3) : () => {};
  const targets = [{ name: "fake", url: `http://127.0.0.1:${PORT + 3}`, kind: "runner" }];
  const g = await startGateway(PORT, {
    vars: { RUNNER_TARGETS: JSON.stringify(worker === "gateway" ? targets : []) },
    edit: (s) => (worker === "hello" ? s.replace(/^main = .*$/m, `main = "${hello}"`) : s),
    extra,
  });
  const w = workerds(g.proc.pid, PORT);
  return {
    url: `http://127.0.0.1:${PORT}`,
    pids: { workerd: w.worker, proxy: w.proxy },
    close: () => (stop(g), closeRunner()),
  };
}

const server = await { workerd: startWorkerd, miniflare: startMiniflare, wrangler: startWrangler }[mode]();
try {
  // The gateway: a GET it answers 404 at once, with an API key (its request row is written to D1).
  let headers = {};
  if (worker === "gateway") {
    const res = await fetch(
      `${server.url}/admin/keys`,
      post({ name: "mem" }, { authorization: "Bearer reliab" }),
    );
    headers = { authorization: `Bearer ${(await res.json()).key}` };
  }
  const path = worker === "gateway" ? "/mem-control" : "/";
  const statuses = {};
  const samples = [];
  const targets = {}; // one at a time: workerd's inspector serves one connection at a time
  for (const [k, pid] of Object.entries(server.pids)) targets[k] = await isolates(pid);
  const get = () => fetch(server.url + path, { headers }).then((r) => r.arrayBuffer());
  const pump = async () => {
    for (let i = 0; i < 3; i++) (await get(), await new Promise((r) => setTimeout(r, 200)));
  };
  const sample = async (sent, { gc = false, malloc = false } = {}) => {
    await new Promise((r) => setTimeout(r, 2000)); // idle a moment: what is left is what is kept
    const row = { sent, gc };
    if (gc)
      for (const [k, list] of Object.entries(targets))
        if (list.length) row[`${k}_gc_isolates`] = (await collectGarbage(list, pump)).length;
    for (const [k, pid] of Object.entries(server.pids)) {
      row[k] = memory(pid);
      if (targets[k].length) row[k].v8 = heapSum(await heaps(targets[k], pump));
      if (malloc) row[k].tcmalloc = tcmalloc(pid);
    }
    samples.push(row);
    console.log(JSON.stringify(row));
  };
  const GC = process.env.MEM_GC ?? "end"; // "end": a full GC after the last batch; "every": after each batch
  const MALLOC = !!process.env.MEM_TCMALLOC;
  await sample(0, { malloc: MALLOC });
  for (let sent = 0; sent < N; sent += BATCH) {
    const res = await new Promise((ok, fail) =>
      autocannon({ url: server.url + path, connections: C, amount: BATCH, headers }, (e, r) =>
        e ? fail(e) : ok(r),
      ),
    );
    for (const [s, x] of Object.entries(res.statusCodeStats)) statuses[s] = (statuses[s] ?? 0) + x.count;
    if (res.errors || res.timeouts) statuses.errors = (statuses.errors ?? 0) + res.errors + res.timeouts;
    const last = sent + BATCH >= N;
    await sample(sent + BATCH, { gc: GC === "every", malloc: MALLOC && last });
    if (last && GC === "end") await sample(sent + BATCH, { gc: true, malloc: MALLOC });
  }
  const env = Object.fromEntries(
    ["MEM_INSPECTOR", "MEM_WRANGLER_ARGS", "MEM_GC", "LD_PRELOAD", "MALLOC_ARENA_MAX"]
      .filter((k) => process.env[k])
      .map((k) => [k, process.env[k]]),
  );
  mkdirSync(join(root, "bench/reliability/memory"), { recursive: true });
  const out = {
    when: new Date().toISOString(),
    mode,
    worker,
    env,
    requests: N,
    concurrency: C,
    statuses,
    samples,
  };
  writeFileSync(join(root, `bench/reliability/memory/${LABEL}.json`), JSON.stringify(out, null, 2) + "\n");
  console.log(JSON.stringify({ label: LABEL, statuses }));
  if (process.env.MEM_HOLD) await new Promise((r) => setTimeout(r, Number(process.env.MEM_HOLD) * 1000));
} finally {
  await server.close();
}
