// The demo page in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core): type a prompt,
// see the three variants' answers stream in side by side and the massive-activation chart; the screenshot
// is kept in test-artifacts/demo.png.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchChromium, pageErrors } from "./chromium";
import { root } from "./servers";

let browser: BrowserContext;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

describe("demo page in headless Chromium", () => {
  it("streams three answers side by side and draws the massive-activation chart", async () => {
    const page = await browser.newPage();
    const errors = pageErrors(page);
    await page.goto(inject("gateway") + "/");
    await page.fill("#prompt", "The capital of France is");
    await page.click("#go");
    for (const variant of ["base", "massive-zero", "massive-retain"])
      await page.waitForFunction(
        (v) =>
          (document.querySelector(`.answer[data-variant="${v}"] .meta`)?.textContent ?? "").includes(
            "tokens",
          ),
        variant,
        { timeout: 30_000 },
      );
    await page.waitForSelector("#chart rect.bar", { timeout: 30_000 });
    const panes = await page.$$eval(".answer pre", (els) => els.map((e) => e.textContent ?? ""));
    expect(panes).toHaveLength(3);
    expect(panes.every((t) => t.length > 0)).toBe(true);
    expect(await page.$$eval("#chart rect.bar", (els) => els.length)).toBeGreaterThanOrEqual(2);
    expect(await page.textContent("#chart-note")).toMatch(/Massive layer: \d+|No massive activation/);
    expect(await page.textContent("#error")).toBe("");
    expect(errors).toEqual([]);
    const dir = join(root, "test-artifacts");
    mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: join(dir, "demo.png"), fullPage: true });
  });
});
