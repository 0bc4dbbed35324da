// Starts the real processes the end-to-end tests talk to: a runner of ours on the tiny model (gpu-runner,
// `python -m runner serve`) and the gateway in workerd (`wrangler dev`, local D1 with the migrations
// applied), each on a free loopback port; stops them by process id.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, existsSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const root = resolve(import.meta.dirname, "../..");
const python = join(root, ".venv/bin/python");
const wrangler = join(root, "node_modules/.bin/wrangler");

export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
    s.on("error", fail);
  });
}

export async function waitFor(url: string, ms: number, proc: ChildProcess, log: () => string): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (proc.exitCode !== null) throw new Error(`${url}: the process exited (${proc.exitCode}):\n${log()}`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer within ${ms} ms:\n${log()}`);
}

function start(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  const proc = spawn(cmd, args, {
    cwd,
    env: { ...process.env, ...env },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const keep = (b: Buffer) => (out = (out + b.toString()).slice(-8000));
  proc.stdout!.on("data", keep);
  proc.stderr!.on("data", keep);
  return { proc, log: () => out };
}

export function stop(proc: ChildProcess | undefined) {
  if (proc?.pid && proc.exitCode === null) {
    try {
      process.kill(-proc.pid, "SIGTERM"); // its own process group: wrangler's workerd child goes too
    } catch {
      // already gone
    }
  }
}

/** A runner on the tiny model (built on first use), or on `model` (a folder, e.g. models/house). */
export async function startRunner(model?: string): Promise<{ url: string; proc: ChildProcess }> {
  const tiny = join(root, "models/tiny");
  if (!model && !existsSync(join(tiny, "model.safetensors"))) {
    const built = spawnSync(python, ["-m", "runner", "build-tiny", "--out", tiny], {
      cwd: join(root, "gpu-runner"),
      encoding: "utf8",
    });
    if (built.status !== 0) throw new Error(`build-tiny failed:\n${built.stderr}`);
  }
  const port = await freePort();
  const { proc, log } = start(
    python,
    ["-m", "runner", "serve", "--model", model ?? tiny, "--host", "127.0.0.1", "--port", String(port)],
    join(root, "gpu-runner"),
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/health`, 120_000, proc, log);
  return { url, proc };
}

export const ADMIN_TOKEN = "e2e-admin-token";

/** `ready`: the path that answers 200 once it is up ("/" where the runner is meant to be down). */
export async function startGateway(
  runnerUrl: string,
  ready = "/health",
): Promise<{ url: string; proc: ChildProcess }> {
  const state = mkdtempSync(join(tmpdir(), "house-gateway-"));
  const env = { WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1" };
  const migrate = spawnSync(wrangler, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", state], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, ...env },
  });
  if (migrate.status !== 0)
    throw new Error(`d1 migrations apply failed:\n${migrate.stdout}\n${migrate.stderr}`);
  const port = await freePort();
  const targets = JSON.stringify([{ name: "local", url: runnerUrl, kind: "runner" }]);
  const { proc, log } = start(
    wrangler,
    [
      "dev",
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--persist-to",
      state,
      "--var",
      `RUNNER_TARGETS:${targets}`,
      "--var",
      `ADMIN_TOKEN:${ADMIN_TOKEN}`,
      "--show-interactive-dev-session=false",
      "--enable-containers=false",
      "--inspector-port",
      String(await freePort()),
    ],
    root,
    env,
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(url + ready, 90_000, proc, log);
  return { url, proc };
}
