// The in-browser model's speed in headless Chromium (Debian's /usr/bin/chromium, wasm backend, one thread):
// model download and session start (cold, from a fresh profile), time to first token (the prompt's prefill
// for three variants in one batch) and decoding tokens per second (all three rows together), per prompt.
// Run against a gateway that serves the static assets (npm start, or wrangler dev after
// scripts/browser-assets.sh):
//   node bench/browser/run.mjs --url http://127.0.0.1:8787     (writes bench/browser/results.json and .md)
import { mkdtempSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const url = process.argv[process.argv.indexOf("--url") + 1] ?? "http://127.0.0.1:8787";
const PROMPTS = [
  "Once upon a time",
  "The history of the city",
  "The capital of France is",
  "In the morning the farmers went to the market and",
  "Summer is warm. Winter is cold. The cat sat on the mat, and the dog slept by the door.",
];

const ctx = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "house-bench-")), {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu"],
});
const page = await ctx.newPage();
await page.goto(url + "/");
await page.check("#in-browser");
await page.waitForFunction(() =>
  /model ready|could not/.test(document.querySelector("#browser-status").textContent),
);
const runs = [];
for (const prompt of PROMPTS) {
  await page.evaluate(() => (window.houseBrowser = undefined));
  await page.fill("#prompt", prompt);
  await page.click("#go");
  await page.waitForFunction(
    () => window.houseBrowser || document.querySelector("#error").textContent,
    null,
    {
      timeout: 600_000,
    },
  );
  const t = await page.evaluate(() => window.houseBrowser);
  if (!t) throw new Error(await page.textContent("#error"));
  runs.push({ prompt, ...t });
  console.log(JSON.stringify(runs.at(-1)));
}
const files = await page.evaluate(
  async () => (await (await fetch("/browser/model/manifest.json")).json()).files,
);
await ctx.close();
const modelBytes = Object.values(files).reduce((n, f) => n + f.bytes, 0);
const median = (xs) => [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1];
const result = {
  when: new Date().toISOString(),
  machine: `${cpus().length} cores (${cpus()[0]?.model}), load ${loadavg()[0].toFixed(1)}`,
  backend: runs[0].backend,
  model_download_bytes: modelBytes,
  download_and_start_ms: Math.round(runs[0].downloadMs),
  ttft_ms_median: Math.round(median(runs.map((r) => r.ttftMs))),
  tokens_per_s_median: Number(median(runs.map((r) => r.tokensPerS)).toFixed(1)),
  runs,
};
const dir = import.meta.dirname;
writeFileSync(join(dir, "results.json"), JSON.stringify(result, null, 1) + "\n");
writeFileSync(
  join(dir, "results.md"),
  `# The house model in the browser (onnxruntime-web ${result.backend})\n\n` +
    `Recorded ${result.when} on ${result.machine}, headless Chromium, with\n` +
    "`node bench/browser/run.mjs --url http://127.0.0.1:8900` against `wrangler dev` serving build/assets.\n\n" +
    `Model download: ${(modelBytes / 2 ** 20).toFixed(1)} MiB (fp32 graph + weights + tokenizer.json); download and ` +
    `session start from a fresh profile: ${result.download_and_start_ms} ms (loopback, so this is mostly parsing).\n\n` +
    "Three variants (base, massive-zero, massive-retain) decode as one batch of three rows; tokens/s counts all rows.\n\n" +
    "| prompt | tokens | first token (ms) | tokens/s |\n|---|---|---|---|\n" +
    runs
      .map((r) => `| ${r.prompt} | ${r.tokens} | ${Math.round(r.ttftMs)} | ${r.tokensPerS.toFixed(1)} |`)
      .join("\n") +
    `\n\nMedian: first token ${result.ttft_ms_median} ms, ${result.tokens_per_s_median} tokens/s.\n`,
);
