// "Run in my browser" in headless Chromium with the runner stopped: a gateway whose only runner target is
// down serves the demo page, which switches to the in-browser model by itself (onnxruntime-web, wasm), shows
// download progress, and answers a typed prompt for base, massive-zero and massive-retain; each answer equals
// the runner's greedy answer on the house model for the same prompt, and the chart is drawn from the
// browser's own run. The browser's timing goes to test-artifacts/browser-timing.json (bench/browser/ has the
// recorded figures).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, pageErrors } from "./chromium";
import { freePort, root, startGateway, startRunner, stop } from "./servers";

const VARIANTS = ["base", "massive-zero", "massive-retain"];
const PROMPT = "The history of the city";
let browser: BrowserContext;
let runner: Awaited<ReturnType<typeof startRunner>>;
let gateway: Awaited<ReturnType<typeof startGateway>>;

beforeAll(async () => {
  runner = await startRunner(join(root, "models/house"));
  gateway = await startGateway(`http://127.0.0.1:${await freePort()}`, "/"); // nothing listens there
  browser = await launchChromium();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  stop(gateway?.proc);
  stop(runner?.proc);
});

async function runnerGreedy(prompt: string): Promise<string[]> {
  const res = await fetch(`${runner.url}/v1/generate`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      requests: VARIANTS.map((variant) => ({ variant, prompt, max_tokens: 48, temperature: 0 })),
    }),
  });
  const body = (await res.json()) as { results: { text: string }[] };
  return body.results.map((r) => r.text);
}

describe("the demo page runs the model in the browser when the runner is down", () => {
  it("answers base, massive-zero and massive-retain as the runner does, greedily", async () => {
    const want = await runnerGreedy(PROMPT);
    expect(new Set(want).size).toBeGreaterThan(1); // the variants differ, so equality means something
    const page = await browser.newPage();
    const errors = pageErrors(page);
    const health = await fetch(gateway.url + "/health");
    expect(health.status).toBe(503); // no runner
    await page.goto(gateway.url + "/");
    await page.waitForFunction(() => (document.querySelector("#in-browser") as HTMLInputElement).checked);
    await page.waitForSelector("#browser-progress:not([hidden])", { timeout: 30_000 });
    await page.fill("#prompt", PROMPT);
    await page.click("#go");
    const done = (v: string) =>
      `/tokens in your browser/.test(document.querySelector('#browser-answers [data-variant="${v}"] .meta')?.textContent ?? "")`;
    await page.waitForFunction(
      `${VARIANTS.map(done).join(" && ")} || document.querySelector("#error").textContent !== ""`,
      null,
      {
        timeout: 400_000,
      },
    );
    expect(await page.textContent("#error")).toBe("");
    const got = await page.$$eval("#browser-answers .answer pre", (els) =>
      els.map((e) => e.textContent ?? ""),
    );
    expect(got).toEqual(want);
    expect(await page.$$eval("#chart rect.bar", (els) => els.length)).toBe(2 * 12);
    expect(await page.textContent("#chart-note")).toMatch(/Massive layer: \d+/);
    expect(await page.textContent("#error")).toBe("");
    // The one failed load is meant: the page's /health probe, 503 while the runner is down, switches it on.
    expect(errors.filter((e) => !e.includes("status of 503"))).toEqual([]);
    const timing = await page.evaluate(
      () => (window as unknown as { houseBrowser?: { tokensPerS: number } }).houseBrowser,
    );
    expect(timing?.tokensPerS).toBeGreaterThan(0);
    const dir = join(root, "test-artifacts");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "browser-timing.json"), JSON.stringify({ prompt: PROMPT, ...timing }, null, 1));
    await page.screenshot({ path: join(dir, "browser.png"), fullPage: true });
  }, 600_000);
});
