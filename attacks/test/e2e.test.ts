// End to end against a REAL runner on the house model (gpu-runner, `python -m runner serve`, CPU, a port in
// 8500-8599, admin token for the k sweep): the CLI runs a campaign and writes exactly one row per cell; a
// run killed mid-way (SIGKILL) and resumed ends with the same exact count and no key twice; --resume
// refuses a changed campaign; the HTML report opens in headless Chromium without console errors.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import Database from "better-sqlite3";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gcg } from "../adaptive/gcg";
import { randomSearch } from "../adaptive/random-search";
import { HttpClient } from "../client";

const ROOT = resolve(import.meta.dirname, "../..");
const TSX = join(ROOT, "node_modules/.bin/tsx");
const ADMIN = "attacks-e2e-admin";
let runner: ChildProcess;
let url = "";
const work = mkdtempSync(join(tmpdir(), "attacks-e2e-"));

function portFree(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const s = createServer();
    s.once("error", () => ok(false));
    s.listen(port, "127.0.0.1", () => s.close(() => ok(true)));
  });
}

beforeAll(async () => {
  let port = 0;
  for (let p = 8500 + Math.floor(Math.random() * 50); p < 8600 && !port; p++) if (await portFree(p)) port = p;
  runner = spawn(
    join(ROOT, ".venv/bin/python"),
    [
      "-m",
      "runner",
      "serve",
      "--model",
      join(ROOT, "models/house"),
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--admin-token",
      ADMIN,
    ],
    {
      cwd: join(ROOT, "gpu-runner"),
      detached: true,
      stdio: "ignore",
      env: { ...process.env, OMP_NUM_THREADS: "1" },
    },
  );
  url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 480; i++) {
    if (runner.exitCode !== null) throw new Error(`the runner exited (${runner.exitCode})`);
    if (
      await fetch(`${url}/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the runner did not answer on ${url}`);
});

afterAll(() => {
  if (runner?.pid && runner.exitCode === null) process.kill(-runner.pid, "SIGTERM");
});

// 11 items (6 cloze, 3 next-word, 2 perplexity) x 3 attacks (clean, drop-bos, charswap) x 3 variants
// (base, massive-zero, zero-k2 registered on the fly) x 1 seed x 1 repeat = 99 cells.
const CELLS = 99;
const campaign = (concurrency = 2, extra = "") => `name: e2e
target: {kind: runner, url: "${url}", admin: {token: ${ADMIN}}}
variants: [base, massive-zero]
k_sweep: {ks: [2]}
tasks:
  - {suite: heldout-cloze, n: 6}
  - {suite: heldout-next, n: 3}
  - {suite: heldout-ppl, n: 2}
attacks: [drop-bos, {id: charswap, params: {rate: 0.3}}]
concurrency: ${concurrency}
${extra}`;

function cli(file: string, out: string, ...args: string[]) {
  return spawnSync(TSX, [join(ROOT, "attacks/cli.ts"), file, "--out", out, "--quiet", ...args], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 300_000,
  });
}

function count(out: string): { rows: number; keys: number } {
  const db = new Database(join(out, "records.db"), { readonly: true });
  try {
    return db
      .prepare("SELECT count(*) AS rows, count(DISTINCT cell_key) AS keys FROM attack_results")
      .get() as { rows: number; keys: number };
  } finally {
    db.close();
  }
}

/** While a run starts, the file can exist before its tables do: count those as no rows yet. */
function rowsSoFar(out: string): number {
  try {
    return count(out).rows;
  } catch {
    return 0;
  }
}

describe("a campaign against a real runner on the house model", () => {
  it("writes exactly one row per cell and the three reports", () => {
    const file = join(work, "a.yaml");
    writeFileSync(file, campaign(4));
    const out = join(work, "a");
    const r = cli(file, out);
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(count(out)).toEqual({ rows: CELLS, keys: CELLS });
    expect(r.stdout).toContain(`report in ${join(out, "report.html")}`);
    const report = JSON.parse(readFileSync(join(out, "report.json"), "utf8"));
    expect(report.variants).toEqual(["base", "massive-zero", "zero-k2"]);
    expect(report.errors).toBe(0);
    expect(report.k_sweep[0].points.map((p: { k: number }) => p.k)).toEqual([0, 2]);

    // Re-judging from the raw outputs, without the model, gives back every score the judges gave: spoil the
    // recorded generation scores (in this test only; records are append-only) and --rejudge restores them.
    const db = new Database(join(out, "records.db"));
    const spoiled = db
      .prepare("UPDATE attack_results SET score = 1 - score WHERE metric = 'exact'")
      .run().changes;
    db.close();
    expect(spoiled).toBe(3 * 3 * 3);
    const re = cli(file, out, "--report-only", "--rejudge");
    expect(re.status, re.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(out, "report.json"), "utf8")).stats).toEqual(report.stats);
  }, 300_000);

  it("killed mid-way and resumed: the same exact count, no cell twice; a changed campaign is refused", async () => {
    const file = join(work, "b.yaml");
    writeFileSync(file, campaign(2));
    const out = join(work, "b");
    const child = spawn(TSX, [join(ROOT, "attacks/cli.ts"), file, "--out", out, "--quiet"], {
      cwd: ROOT,
      stdio: "ignore",
      detached: true,
    });
    for (let i = 0; i < 1200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      if (existsSync(join(out, "records.db")) && rowsSoFar(out) >= 20) break;
    }
    process.kill(-child.pid!, "SIGKILL");
    await new Promise((r) => child.once("exit", r));
    const partial = count(out);
    expect(partial.rows).toBeGreaterThanOrEqual(20);
    expect(partial.rows).toBeLessThan(CELLS);
    expect(partial.keys).toBe(partial.rows);

    const again = cli(file, out);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/pass --resume/);

    writeFileSync(file, campaign(2, "seeds: [0, 1]\n"));
    const changed = cli(file, out, "--resume");
    expect(changed.status).toBe(1);
    expect(changed.stderr).toMatch(/refuses a changed campaign/);

    writeFileSync(file, campaign(2));
    const resumed = cli(file, out, "--resume");
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(
      new RegExp(`${CELLS} cells \\(${partial.rows} already recorded, ${CELLS - partial.rows} to run\\)`),
    );
    expect(count(out)).toEqual({ rows: CELLS, keys: CELLS });
  }, 300_000);

  it("the HTML report opens in headless Chromium without errors and draws its charts", async () => {
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
      ],
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      const requests: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
      page.on("request", (r) => requests.push(r.url()));
      await page.goto("file://" + join(work, "a", "report.html"));
      expect(await page.locator("svg.heatmap").count()).toBe(3);
      expect(await page.locator("svg.heatmap g.cell").count()).toBe(3 * 3 * 3);
      expect(await page.locator("svg.pdr g.bar").count()).toBeGreaterThan(0);
      expect(await page.locator("svg.ksweep circle").count()).toBe(2 * 3);
      mkdirp(join(ROOT, "test-artifacts"));
      await page.screenshot({ path: join(ROOT, "test-artifacts/attack-report.png"), fullPage: true });
      expect(errors).toEqual([]);
      expect(requests.filter((u) => !u.startsWith("file://"))).toEqual([]); // no network
    } finally {
      await browser.close();
    }
  }, 120_000);
});

describe("adaptive attacks against the same runner", () => {
  it("in a campaign: a suffix searched on base per cloze item, scored on every variant; no cells for others", () => {
    const file = join(work, "adaptive.yaml");
    writeFileSync(
      file,
      `name: adaptive
target: {kind: runner, url: "${url}", admin: {token: ${ADMIN}}}
variants: [base, massive-zero]
tasks:
  - {suite: heldout-cloze, n: 2}
  - {suite: heldout-next, n: 1}
attacks:
  - {id: random-search, params: {iterations: 3, candidates: 2, suffixTokens: 4}, label: rs}
  - {id: gcg, params: {steps: 2, batch: 4, topK: 8, suffixTokens: 4}, label: gcg}
`,
    );
    const out = join(work, "adaptive");
    const r = cli(file, out);
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain("adaptive attacks: 4 searches done");
    // cloze: 2 items x (clean, rs, gcg) x 2 variants; next-word: 1 item x clean x 2 variants
    expect(count(out)).toEqual({ rows: 14, keys: 14 });
    const report = JSON.parse(readFileSync(join(out, "report.json"), "utf8"));
    expect(report.attacks).toEqual(["clean", "rs", "gcg"]);
    expect(report.errors).toBe(0);
  }, 300_000);

  const prompt = "The Debian package manager is called";
  const target = " apt";

  it("random search (black-box, /v1/score): the best log-prob never falls, and the suffix re-scores to it", async () => {
    const client = new HttpClient({ kind: "runner", url });
    const res = await randomSearch(client, { variant: "base", prompt, target, iterations: 6, candidates: 4 });
    expect(res.history).toHaveLength(7);
    res.history.slice(1).forEach((lp, i) => expect(lp).toBeGreaterThanOrEqual(res.history[i]));
    const [again] = await client.loglikelihood([
      { variant: "base", context: prompt + res.suffixText, continuation: target },
    ]);
    expect(again.logprob).toBeCloseTo(res.history.at(-1)!, 4);
  }, 120_000);

  it("GCG (white-box, admin gradients routes): the loss never rises, and needs the admin token", async () => {
    const client = new HttpClient({ kind: "runner", url, admin: { url, token: ADMIN } });
    const res = await gcg(client, {
      variant: "massive-zero",
      prompt,
      target,
      steps: 4,
      batch: 8,
      topK: 16,
      suffixTokens: 6,
    });
    expect(res.suffix).toHaveLength(6);
    res.history.slice(1).forEach((l, i) => expect(l).toBeLessThanOrEqual(res.history[i]));
    const [l] = await client.suffixLosses({
      variant: "massive-zero",
      prompt,
      target,
      candidates: [res.suffix],
    });
    expect(l).toBeCloseTo(res.history.at(-1)!, 4);
    const anon = new HttpClient({ kind: "runner", url, admin: { url, token: "wrong" } });
    await expect(anon.suffixLosses({ variant: "base", prompt, target, candidates: [[5]] })).rejects.toThrow(
      /401/,
    );
  }, 120_000);
});

function mkdirp(dir: string) {
  spawnSync("mkdir", ["-p", dir]);
}
