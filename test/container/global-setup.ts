// Global setup of the container tests: build the image with scripts/container.sh (tools and base once, then
// buildah's layer cache), so a cold build is part of the first run and later runs rebuild only what changed.
import { spawnSync } from "node:child_process";
import type { TestProject } from "vitest/node";
import { root } from "../e2e/servers";

declare module "vitest" {
  export interface ProvidedContext {
    image: string;
  }
}

export const IMAGE = process.env.IMAGE ?? "localhost/house-runner:cpu";

export default function setup(project: TestProject) {
  if (process.getuid?.() !== 0)
    throw new Error("the container tests need root (buildah and podman run as root here)");
  const started = Date.now();
  const built = spawnSync("bash", ["scripts/container.sh", "build"], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, IMAGE },
    stdio: ["ignore", "pipe", "inherit"],
  });
  if (built.status !== 0)
    throw new Error(`scripts/container.sh build failed (${built.status}):\n${built.stdout}`);
  process.stdout.write(`${built.stdout.trim()} (this run: ${Math.round((Date.now() - started) / 1000)} s)\n`);
  project.provide("image", IMAGE);
}
