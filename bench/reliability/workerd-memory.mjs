// A running workerd process's memory, by its parts, for the reliability benches (memory.mjs, load.mjs,
// gateway-fuzz-wrangler.mjs): its resident memory (anonymous vs the binary's file pages), what its
// allocator holds (workerd links tcmalloc in; read with gdb), and its V8 heaps through its own inspector
// (each isolate's heap in use and committed, and a full GC in every isolate), so that garbage V8 has not
// collected yet can be told from memory that is kept.
//
// Two things about workerd's inspector that these helpers work around (seen with workerd 2026-04-26):
// - it serves one connection at a time, so /json/list is read with `Connection: close` over node:http
//   (a keep-alive fetch would hold the server and the WebSocket would never open);
// - an isolate may answer only when it next runs (HeapProfiler.collectGarbage always; the Worker's own
//   isolate under `wrangler dev` even for Runtime.getHeapUsage), so a question goes to every isolate at
//   once, then `pump()` (the caller's requests) makes them run, then the answers are awaited.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { get } from "node:http";
import { join } from "node:path";
import WebSocket from "ws"; // wrangler's and miniflare's WebSocket client (Node 20's own is behind a flag)

/** Resident memory of `pid` from smaps_rollup, MiB: total, anonymous, file-backed (the binary's pages). */
export function memory(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(s)?.[1] ?? NaN);
    const mib = (x) => +(x / 1024).toFixed(1);
    return { rss: mib(kb("Rss")), anon: mib(kb("Anonymous")), file: mib(kb("Rss") - kb("Anonymous")) };
  } catch {
    return null;
  }
}

/** workerd's allocator (tcmalloc, linked in) by its own account, MiB, read with gdb (a few seconds, paused):
 * bytes the program holds, bytes in tcmalloc's free lists, and all it has from the system. */
export function tcmalloc(pid) {
  const r = spawnSync(
    "gdb",
    [
      "-p",
      String(pid),
      "-batch",
      "-nx",
      "-ex",
      "set $b = (char*)malloc(2000000)",
      "-ex",
      "call (int)MallocExtension_Internal_GetStatsInPbtxt($b, 2000000)",
      "-ex",
      'printf "%.600s\\n", $b',
      "-ex",
      "call (void)free($b)",
      "-ex",
      "detach",
    ],
    { encoding: "utf8", timeout: 120_000 },
  );
  const num = (k) => Number(new RegExp(`\\b${k}: (\\d+)`).exec(r.stdout ?? "")?.[1] ?? NaN);
  const mib = (x) => +(x / 2 ** 20).toFixed(1);
  const free = [
    "page_heap_freelist",
    "central_cache_freelist",
    "per_cpu_cache_freelist",
    "sharded_transfer_cache_freelist",
    "transfer_cache_freelist",
    "thread_cache_freelists",
  ];
  return {
    in_use: mib(num("in_use_by_app")),
    free: mib(free.reduce((a, k) => a + num(k), 0)),
    from_system: mib(num("actual_mem_used")),
  };
}

/** wrangler's environment for an inspector on its proxy workerd too, at 127.0.0.1:`port`
 * (workerd-inspect.sh; `wrangler dev` opens one on the Worker's process only). */
export const proxyInspectorEnv = (port) => ({
  MINIFLARE_WORKERD_PATH: join(import.meta.dirname, "workerd-inspect.sh"),
  WORKERD_PROXY_INSPECTOR: `127.0.0.1:${port}`,
});

/** The TCP ports `pid` listens on (from /proc: its socket inodes, matched in /proc/net/tcp). */
export function listeningPorts(pid) {
  const sockets = new Set();
  for (const fd of readdirSync(`/proc/${pid}/fd`))
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) sockets.add(m[1]);
    } catch {}
  return readFileSync("/proc/net/tcp", "utf8")
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter((c) => c[3] === "0A" && sockets.has(c[9]))
    .map((c) => parseInt(c[1].split(":")[1], 16));
}

const getJson = (url) =>
  new Promise((ok, fail) => {
    const req = get(url, { headers: { connection: "close" }, timeout: 2000 }, (res) => {
      let body = "";
      res.on("data", (b) => (body += b));
      res.on("end", () => {
        try {
          ok(JSON.parse(body));
        } catch (e) {
          fail(e);
        }
      });
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", fail);
  });

/** The isolates (inspector targets: { id, webSocketDebuggerUrl }) of workerd process `pid`; [] without one. */
export async function isolates(pid) {
  for (const port of listeningPorts(pid))
    try {
      const list = await getJson(`http://127.0.0.1:${port}/json/list`);
      if (Array.isArray(list) && list.some((t) => t.description === "workerd worker")) return list;
    } catch {}
  return [];
}

/** One inspector session on an isolate: `send(method)` answers its result (null past `ms`). */
async function session(target) {
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((ok, fail) => {
    ws.on("open", ok);
    ws.on("error", fail);
    setTimeout(() => fail(new Error(`${target.id}: no inspector session in 5 s`)), 5000);
  });
  const pending = new Map();
  let id = 0;
  ws.on("message", (m) => {
    const d = JSON.parse(String(m));
    pending.get(d.id)?.(d.result);
  });
  const send = (method, ms = 5000) =>
    new Promise((ok) => {
      pending.set(++id, ok);
      setTimeout(() => ok(null), ms);
      ws.send(JSON.stringify({ id, method, params: {} }));
    });
  // (a close handshake workerd does not finish must not hold the caller: end the socket after 1 s)
  const close = () =>
    new Promise((ok) => {
      ws.on("close", ok);
      ws.close();
      setTimeout(() => (ws.terminate(), ok()), 1000);
    });
  return { send, close };
}

/** `method` in every isolate of `list` at once, then `pump()` (requests that make them run); answers
 * [target, result or null] for each. */
async function everyIsolate(list, method, pump, ms) {
  // (a target workerd cannot open, e.g. wrangler's "core:custom-fetch:0:#PROXY_CONTROLLER", whose "#" reads
  // as a URL fragment, answers null: those are bridges to Node, not Workers)
  const sessions = await Promise.all(list.map((t) => session(t).catch(() => null)));
  const answers = Promise.all(sessions.map((s) => s?.send(method, ms) ?? null));
  await pump();
  const results = await answers;
  await Promise.all(sessions.map((s) => s?.close()));
  return list.map((t, i) => [t, results[i]]);
}

/** Each isolate's V8 heap, MiB: { [id]: { used, total } } (in use, and committed by V8). */
export async function heaps(list, pump) {
  const out = {};
  for (const [t, r] of await everyIsolate(list, "Runtime.getHeapUsage", pump, 5000))
    if (r)
      out[t.id] = { used: +(r.usedSize / 2 ** 20).toFixed(2), total: +(r.totalSize / 2 ** 20).toFixed(2) };
  return out;
}

/** The sum over isolates of heaps()'s figures, MiB. */
export const heapSum = (h) => {
  const v = Object.values(h);
  const sum = (k) => +v.reduce((a, x) => a + x[k], 0).toFixed(1);
  return { isolates: v.length, used: sum("used"), total: sum("total") };
};

/** A full GC in every isolate of `list`; answers the ids that collected (an isolate that no request
 * reaches, e.g. an unused binding's, may not). */
export async function collectGarbage(list, pump, ms = 15_000) {
  const done = await everyIsolate(list, "HeapProfiler.collectGarbage", pump, ms);
  return done.filter(([, r]) => r).map(([t]) => t.id);
}
