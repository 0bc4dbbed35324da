// The image under test, through scripts/container.sh (podman with the flags that work on this machine): one-off
// commands in the image, and the runner served from it on the host network, stopped by container name.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { freePort, root, waitFor } from "../e2e/servers";

export function podman(...args: string[]): string {
  const res = spawnSync("bash", ["scripts/container.sh", "podman", ...args], { cwd: root, encoding: "utf8" });
  if (res.status !== 0) throw new Error(`podman ${args.join(" ")} failed (${res.status}):\n${res.stderr}`);
  return res.stdout;
}

/** Runs `sh -c script` in the image as its own user; answers the exit status and the output. */
export function inImage(image: string, script: string): { status: number | null; out: string } {
  const res = spawnSync(
    "bash",
    ["scripts/container.sh", "run", "--rm", "--entrypoint", "sh", image, "-c", script],
    { cwd: root, encoding: "utf8" },
  );
  return { status: res.status, out: res.stdout + res.stderr };
}

export type Served = { url: string; name: string; proc: ChildProcess };

/** Starts the image's runner (its own entrypoint, or `sh -c` when `script` is given; PORT is replaced). */
export async function serve(image: string, args: string[], script?: string): Promise<Served> {
  const port = await freePort();
  const name = `house-runner-test-${port}`;
  const run = script
    ? ["--entrypoint", "sh", image, "-c", script.replaceAll("PORT", String(port))]
    : [image, ...args, "--port", String(port)];
  const proc = spawn("bash", ["scripts/container.sh", "run", "--rm", "--name", name, ...run], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const keep = (b: Buffer) => (out = (out + b.toString()).slice(-8000));
  proc.stdout!.on("data", keep);
  proc.stderr!.on("data", keep);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(`${url}/health`, 180_000, proc, () => out);
  } catch (e) {
    stopServed({ url, name, proc });
    throw e;
  }
  return { url, name, proc };
}

export function stopServed(s: Served | undefined) {
  if (!s) return;
  spawnSync("bash", ["scripts/container.sh", "podman", "rm", "--force", "--time", "5", s.name], {
    cwd: root,
  });
}
