// Whose memory grows in the gateway fuzz's long mode? Under the vitest pool one workerd process hosts the
// gateway, vitest's runner, the fake runner and the local D1 together (gateway-fuzz-rss.mjs). Here the
// gateway runs alone under `wrangler dev` (servers.mjs), the fake runner (test/fixtures/fake-runner.mjs) in
// this Node process behind a loopback HTTP server, and the same fuzzed bodies (test/fixtures/fuzz-bodies.ts)
// go over HTTP, round robin over the eight routes, in batches of 1,000. After each batch, with the gateway
// idle for a moment: workerd's RSS (from /proc), the Worker's JS heap after a full GC, and the size of the local D1's SQLite files (a request row
// per request). Writes bench/reliability/gateway-fuzz-wrangler.json.
// Run: node bench/reliability/gateway-fuzz-wrangler.mjs   (FUZZ_REQUESTS, default 10000; FUZZ_CONCURRENCY, 8;
// FUZZ_CONTROL=404 or hello, below: trivial requests instead, to gateway-fuzz-wrangler-control-<name>.json)
import { build } from "esbuild";
import fc from "fast-check";
import { readdirSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { post, root, rssMib, startGateway, stop, workerds } from "./servers.mjs";
import { collectGarbage, heaps, isolates } from "./workerd-memory.mjs";

const N = Number(process.env.FUZZ_REQUESTS ?? 10000);
const C = Number(process.env.FUZZ_CONCURRENCY ?? 8);
// Controls: FUZZ_CONTROL=404, GETs the gateway answers 404 at once; FUZZ_CONTROL=hello, the same GETs to a
// hello-world Worker (no project code) under the same `wrangler dev`: the runtime's own baseline.
const CONTROL = process.env.FUZZ_CONTROL ?? "";
const HELLO = "build/bench-hello-worker.mjs";
const BATCH = 1000;
const FAKE_PORT = 8610;
const GATEWAY_PORT = 8611;

// The fake runner and the bodies are TypeScript-importing modules: bundle them for Node first.
for (const [entry, out] of [
  ["test/fixtures/fake-runner.mjs", "build/bench-fake-runner.mjs"],
  ["test/fixtures/fuzz-bodies.ts", "build/bench-fuzz-bodies.mjs"],
])
  await build({ entryPoints: [join(root, entry)], outfile: join(root, out), bundle: true, format: "esm" });
const fake = (await import(pathToFileURL(join(root, "build/bench-fake-runner.mjs")))).default;
const { bodies, VALID } = await import(pathToFileURL(join(root, "build/bench-fuzz-bodies.mjs")));

// The fake picks its behaviour by host name: "ok.runner" answers everything.
const server = createServer(async (req, res) => {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const body = req.method === "POST" ? Buffer.concat(chunks) : undefined;
  const answer = await fake.fetch(
    new Request(`http://ok.runner${req.url}`, {
      method: req.method,
      headers: { "content-type": req.headers["content-type"] ?? "application/json" },
      body,
    }),
  );
  res.writeHead(answer.status, Object.fromEntries(answer.headers));
  res.end(Buffer.from(await answer.arrayBuffer()));
});
await new Promise((ok) => server.listen(FAKE_PORT, "127.0.0.1", ok));

/** Total bytes of the local D1's SQLite files (database, WAL) under the gateway's --persist-to folder. */
function d1Bytes(dir) {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true }))
    if (e.isFile() && /\.sqlite(-wal)?$/.test(e.name) && /d1/i.test(e.parentPath ?? e.path))
      total += statSync(join(e.parentPath ?? e.path, e.name)).size;
  return total;
}

// (it exports the Durable Object class and the queue handler that wrangler.toml's bindings name)
writeFileSync(
  join(root, HELLO),
  `export class RunnerContainer { fetch() { return new Response("hello"); } }
export default { fetch: () => new Response("hello"), queue() {} };
`,
);

/** The Worker's JS heap, from V8 through its workerd's own inspector (workerd-memory.mjs; not wrangler's
 * inspector proxy, which renumbers messages and streams Network events): MiB in use after a full GC, so
 * garbage not yet collected does not count. `pump` makes the isolate run (it answers only then). */
async function heapAfterGc(pid, pump) {
  const list = (await isolates(pid)).filter((t) => t.id.startsWith("core:user:"));
  if (!list.length) return null;
  await collectGarbage(list, pump);
  return (await heaps(list, pump))[list[0].id]?.used ?? null;
}

let gateway;
try {
  const targets = JSON.stringify([{ name: "fake", url: `http://127.0.0.1:${FAKE_PORT}`, kind: "runner" }]);
  gateway = await startGateway(GATEWAY_PORT, {
    vars: { RUNNER_TARGETS: targets },
    edit: (s) =>
      s
        .replace(/(name = "KEY_LIMITER"[\s\S]*?limit = )600/, "$1100000")
        .replace(/^main = .*$/m, CONTROL === "hello" ? `main = "${HELLO}"` : "$&"),
  });
  const gw = `http://127.0.0.1:${GATEWAY_PORT}`;
  const admin = { authorization: "Bearer reliab" };
  const { key } =
    CONTROL === "hello"
      ? { key: "none" }
      : await (await fetch(`${gw}/admin/keys`, post({ name: "fuzz" }, admin))).json();
  const pids = workerds(gateway.proc.pid, GATEWAY_PORT); // servers.mjs: the proxy and the Worker's own
  const routes = Object.keys(VALID);
  const samples = [];
  const statuses = {};
  const sample = async (sent, seconds) => {
    await new Promise((r) => setTimeout(r, 2000)); // idle a moment: what is left is what is kept
    const rss = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, Math.round(rssMib(pid))]));
    const late = new Promise((ok) => setTimeout(() => ok(null), 15_000)); // no inspector answer: null
    const pump = () =>
      fetch(`${gw}/fuzz-control`, { headers: { authorization: `Bearer ${key}` } }).then((r) =>
        r.arrayBuffer(),
      );
    const heap = await Promise.race([heapAfterGc(pids.worker, pump), late]);
    samples.push({ sent, seconds, rss_mib: rss, worker_js_heap_mib: heap, d1_bytes: d1Bytes(gateway.state) });
    console.log(JSON.stringify(samples.at(-1)));
  };
  const t0 = Date.now();
  await sample(0, 0);
  for (let sent = 0; sent < N;) {
    const n = Math.min(BATCH, N - sent);
    const todo = Array.from({ length: n }, (_, i) => {
      // The control: a GET the gateway answers 404 at once (no body, no runner; its request row is written).
      if (CONTROL) return ["/fuzz-control", undefined];
      const path = routes[(sent + i) % routes.length];
      return [path, fc.sample(bodies(VALID[path]), 1)[0]];
    });
    const worker = async () => {
      for (let job; (job = todo.pop());) {
        const [path, body] = job;
        const res = await fetch(`${gw}${path}`, {
          method: body === undefined ? "GET" : "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        await res.arrayBuffer();
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      }
    };
    await Promise.all(Array.from({ length: C }, worker));
    sent += n;
    await sample(sent, (Date.now() - t0) / 1000);
  }
  const out = {
    when: new Date().toISOString(),
    requests: N,
    concurrency: C,
    control: CONTROL || null,
    statuses,
    samples,
  };
  writeFileSync(
    join(root, `bench/reliability/gateway-fuzz-wrangler${CONTROL ? `-control-${CONTROL}` : ""}.json`),
    JSON.stringify(out, null, 2) + "\n",
  );
  console.log(JSON.stringify({ statuses }));
} finally {
  stop(gateway);
  server.close();
}
