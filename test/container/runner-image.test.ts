// The runner's image, really built and started (issue 15): global-setup builds gpu-runner/Dockerfile with
// scripts/container.sh (buildah from a Debian base made here; no registry, no Docker daemon); here the runner
// serves from inside it, on the tiny model (built in the container) and on the house model (the image's
// default command), and is asked over HTTP from the host. The image itself: a non-root user, no secrets, and
// a size within the budget scripts/container.sh sets.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { root, startRunner, stop } from "../e2e/servers";
import { inImage, podman, serve, stopServed, type Served } from "./podman";

const image = inject("image");
const THREE = ["base", "massive-zero", "massive-retain"];
// The base image scripts/container.sh makes, as its image-vars name it.
const BASE = spawnSync("bash", ["scripts/container.sh", "image-vars"], {
  cwd: root,
  encoding: "utf8",
}).stdout.match(/BASE = "([^"]+)"/)![1];

type Health = {
  status: string;
  model: { id: string };
  massive: { layer: number | null; indices: number[] };
  variants: string[];
};
type Generated = { results: { index: number; variant: string; text: string; tokens: number[] }[] };

async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, init);
  expect(res.status, `${url}: ${await res.clone().text()}`).toBe(200);
  return (await res.json()) as T;
}

function generateThree(url: string): Promise<Generated> {
  const requests = THREE.map((variant) => ({
    variant,
    prompt: "The house of cards",
    max_tokens: 8,
    temperature: 0,
  }));
  return getJson<Generated>(`${url}/v1/generate`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ requests }),
  });
}

describe("the runner served from the image on the tiny model", () => {
  let served: Served | undefined;
  beforeAll(async () => {
    served = await serve(
      image,
      [],
      "python3 -m runner build-tiny --out /tmp/tiny && exec python3 -m runner serve --model /tmp/tiny --host 0.0.0.0 --port PORT",
    );
  });
  afterAll(() => stopServed(served));

  it("answers /health with the planted massive layer and the built-in variants", async () => {
    const health = await getJson<Health>(`${served!.url}/health`);
    expect(health.status).toBe("ok");
    expect(health.massive.layer).toBe(1); // runner/tiny.py PLANT_LAYER
    expect(health.variants).toEqual(expect.arrayContaining(THREE));
  });

  it("finds the planted top-3 rows on /v1/massive", async () => {
    const m = await getJson<{ massive_layer: number; top_k: { indices: number[] } }>(
      `${served!.url}/v1/massive?k=3`,
    );
    expect(m.massive_layer).toBe(1);
    expect([...m.top_k.indices].sort((a, b) => a - b)).toEqual([7, 19, 42]); // runner/tiny.py PLANT_ROWS
  });

  it("answers a three-variant /v1/generate token for token as the runner from the working tree does", async () => {
    const fromImage = await generateThree(served!.url);
    const host = await startRunner(); // the same tiny model (seed 0) built on the host, served by .venv
    try {
      const fromTree = await generateThree(host.url);
      expect(fromImage.results.map((r) => r.variant)).toEqual(THREE);
      expect(fromImage.results.every((r) => r.tokens.length > 0)).toBe(true);
      expect(fromImage.results.map((r) => r.tokens)).toEqual(fromTree.results.map((r) => r.tokens));
    } finally {
      stop(host.proc);
    }
  });
});

describe("the runner served from the image on the house model (given only --port: HOUSE_MODELS makes it the default)", () => {
  let served: Served | undefined;
  beforeAll(async () => {
    served = await serve(image, []); // serve() adds --port, which replaces the image's CMD
  });
  afterAll(() => stopServed(served));

  it("answers /health for the house model with its adapters as variants", async () => {
    const health = await getJson<Health>(`${served!.url}/health`);
    expect(health.model.id).toBe("house");
    expect(health.massive.layer).not.toBeNull();
    expect(health.variants).toEqual(expect.arrayContaining([...THREE, "macdrop"]));
  });

  it("names on /v1/massive the same layer and top-k rows as /health", async () => {
    const health = await getJson<Health>(`${served!.url}/health`);
    const m = await getJson<{ massive_layer: number; top_k: { indices: number[] } }>(
      `${served!.url}/v1/massive?k=${health.massive.indices.length}`,
    );
    expect(m.massive_layer).toBe(health.massive.layer);
    expect(m.top_k.indices).toEqual(health.massive.indices);
  });

  it("answers a three-variant /v1/generate, one result per variant in order", async () => {
    const out = await generateThree(served!.url);
    expect(out.results.map((r) => [r.index, r.variant])).toEqual(THREE.map((v, i) => [i, v]));
    expect(out.results.every((r) => r.tokens.length > 0 && typeof r.text === "string")).toBe(true);
  });
});

describe("the image itself", () => {
  it("runs as the unprivileged user runner, who cannot rewrite the code or the model", () => {
    expect(podman("image", "inspect", "--format", "{{.Config.User}}", image).trim()).toBe("runner");
    const r = inImage(
      image,
      "id -u; touch /app/x /models/house/x 2>/dev/null && echo writable || echo read-only",
    );
    expect(r.out.trim().split("\n")).toEqual(["10001", "read-only"]);
  });

  it("holds no secrets: none in its environment or history, none of the repository's secret files", () => {
    const env = podman("image", "inspect", "--format", "{{range .Config.Env}}{{println .}}{{end}}", image);
    const names = env
      .split("\n")
      .map((l) => l.split("=")[0])
      .filter(Boolean);
    expect(names.filter((n) => /TOKEN|SECRET|PASSWORD|API_KEY|CREDENTIAL/i.test(n))).toEqual([]);
    const history = podman("history", "--no-trunc", "--format", "{{.CreatedBy}}", image);
    expect(history).not.toMatch(/TOKEN=|SECRET=|PASSWORD=/i);
    // Only what .dockerignore lets in: the runner's package and the house model, never .dev.vars or keys.
    const files = inImage(image, "cd / && find app models -type f").out.trim().split("\n");
    const allowed = /^(app\/gpu-runner\/(pyproject\.toml|runner\/[\w/]+\.py)|models\/house\/.+)$/;
    /^(app\/gpu-runner\/(pyproject\.toml|runner\/[\w/]+\.(py|json|jinja))|models\/house\/.+)$/;
    expect(
      files.filter((f) => !allowed.test(f) || /\.dev\.vars|\.env$|\.pem$|id_rsa|recipe\//.test(f)),
    ).toEqual([]);
    // And none of this machine's secret values anywhere in the image's own files.
    const devVars = join(root, ".dev.vars");
    if (existsSync(devVars)) {
      const values = [...readFileSync(devVars, "utf8").matchAll(/^\w+=\"?([^"\n]{8,})\"?$/gm)].map(
        (m) => m[1],
      );
      for (const v of values) {
        const found = inImage(
          image,
          `grep -rlF -- '${v}' /app /models /home /etc /usr/local 2>/dev/null; true`,
        );
        expect(found.out.trim(), "a .dev.vars value is in the image").toBe("");
      }
    }
  });

  it("keeps nothing of what the build mounted: the wheel folder, this machine's CA bundle", () => {
    const bundle = "sha256sum /etc/ssl/certs/ca-certificates.crt | cut -c1-64";
    const base = spawnSync(
      "bash",
      ["scripts/container.sh", "run", "--rm", "--entrypoint", "sh", BASE, "-c", bundle],
      {
        cwd: root,
        encoding: "utf8",
      },
    );
    expect(base.status).toBe(0);
    expect(inImage(image, `${bundle}; ls /wheels 2>/dev/null | wc -l`).out.trim().split("\n")).toEqual([
      base.stdout.trim(),
      "0",
    ]);
  });

  it("stays within the size budget scripts/container.sh sets", () => {
    const size = Number(podman("image", "inspect", "--format", "{{.Size}}", image).trim());
    const budget = Number(
      spawnSync("bash", ["scripts/container.sh", "budget"], { cwd: root, encoding: "utf8" }).stdout,
    );
    console.log(`image ${image}: ${(size / 1e9).toFixed(2)} GB (budget ${(budget / 1e9).toFixed(2)} GB)`);
    expect(size).toBeGreaterThan(0);
    expect(size).toBeLessThanOrEqual(budget);
  });
});
