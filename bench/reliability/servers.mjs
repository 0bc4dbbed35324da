// The real processes the reliability benches drive, on loopback ports of their own: the runner on a model
// (`python -m runner serve`), the gateway under `wrangler dev` (as `npm start` runs it, local D1 with the
// migrations applied, from a temporary copy of wrangler.toml the caller may edit), and each process's
// resident memory read from /proc (workerd is found among wrangler's descendants). Stops them by group id.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const root = resolve(import.meta.dirname, "../..");
const wrangler = join(root, "node_modules/.bin/wrangler");
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", OMP_NUM_THREADS: "1" };

function start(cmd, args, cwd, more = {}) {
  const proc = spawn(cmd, args, {
    cwd,
    env: { ...env, ...more },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const keep = (b) => (out = (out + b.toString()).slice(-4000));
  proc.stdout.on("data", keep);
  proc.stderr.on("data", keep);
  return { proc, log: () => out };
}

export async function waitFor(url, ms, { proc, log }) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (proc.exitCode !== null) throw new Error(`${url}: exited (${proc.exitCode}):\n${log()}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer within ${ms} ms:\n${log()}`);
}

/** The runner on `model` (a folder) at `port`; extra flags after. */
export async function startRunner(port, model, flags = []) {
  const p = start(
    join(root, ".venv/bin/python"),
    ["-m", "runner", "serve", "--model", model, "--port", String(port), "--device", "cpu", ...flags],
    join(root, "gpu-runner"),
  );
  await waitFor(`http://127.0.0.1:${port}/health`, 240_000, p);
  return p;
}

/** The gateway under `wrangler dev` at `port`; `edit` rewrites a copy of wrangler.toml first; `extra` flags
 * go after the usual ones and `env` into wrangler's environment (memory.mjs's bisect). */
export async function startGateway(port, { vars = {}, edit = (s) => s, extra = [], env: more = {} } = {}) {
  const state = mkdtempSync(join(tmpdir(), "house-reliab-"));
  const config = join(root, `.wrangler-reliab-${port}.toml`);
  writeFileSync(config, edit(readFileSync(join(root, "wrangler.toml"), "utf8")));
  const r = spawnSync(
    wrangler,
    ["d1", "migrations", "apply", "DB", "--local", "-c", config, "--persist-to", state],
    {
      cwd: root,
      env,
      encoding: "utf8",
    },
  );
  if (r.status !== 0) throw new Error(`d1 migrations: ${r.stdout}\n${r.stderr}`);
  const args = ["dev", "-c", config, "--ip", "127.0.0.1", "--port", String(port), "--persist-to", state];
  for (const [k, v] of Object.entries({ ADMIN_TOKEN: "reliab", ...vars })) args.push("--var", `${k}:${v}`);
  args.push("--enable-containers=false", "--show-interactive-dev-session=false", "--log-level", "error");
  args.push("--inspector-port", String(port + 50), ...extra);
  const p = start(wrangler, args, root, more);
  // The gateway's /health is 200 once a runner answers it (503 "degraded" before).
  await waitFor(`http://127.0.0.1:${port}/health`, 120_000, p);
  p.state = state; // the --persist-to folder (local D1)
  p.cleanup = () => (rmSync(config, { force: true }), rmSync(state, { recursive: true, force: true }));
  return p;
}

export function stop(p) {
  if (p?.proc.pid && p.proc.exitCode === null)
    try {
      process.kill(-p.proc.pid, "SIGTERM");
    } catch {}
  p?.cleanup?.();
}

/** Resident memory (MiB) of a process, from /proc. */
export function rssMib(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** `wrangler dev`'s two workerd processes below `pid`: "proxy" (wrangler's own proxy Worker, listening on the
 * public `port`) and "worker" (the gateway itself, with its local D1). Memory figures are the worker's. */
export function workerds(pid, port) {
  const out = {};
  for (const p of descendants(pid, "workerd")) {
    const cmd = readFileSync(`/proc/${p}/cmdline`, "utf8");
    out[cmd.includes(`entry=127.0.0.1:${port}`) ? "proxy" : "worker"] = p;
  }
  return out;
}

/** The pid of the first descendant of `pid` whose name is `name` (the vitest pool's one workerd). */
export function descendant(pid, name) {
  return descendants(pid, name)[0] ?? null;
}

/** The pids of every descendant of `pid` whose name is `name`, ascending. */
export function descendants(pid, name) {
  const parent = new Map();
  const comm = new Map();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      comm.set(Number(d), stat.slice(stat.indexOf("(") + 1, close));
      parent.set(Number(d), Number(stat.slice(close + 2).split(" ")[1]));
    } catch {}
  }
  const found = [];
  for (const [p, c] of comm) {
    if (c !== name) continue;
    for (let up = parent.get(p); up; up = parent.get(up)) if (up === pid) found.push(p);
  }
  return found.sort((a, b) => a - b);
}

export const post = (body, headers = {}) => ({
  method: "POST",
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
});
