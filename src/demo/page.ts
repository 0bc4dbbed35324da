// GET /: the public demo page, plain HTML and JS served by the Worker (no build step). It streams one
// prompt to three variants side by side through POST /v1/compare and charts the massive-activation profile
// from GET /demo/massive (per layer, the top |value| over the median at the BOS token, log scale).
import type { Config } from "../env";
import { browserSwitchHtml } from "./browser-switch";
import { robustnessTab } from "./robustness";
import { script } from "./script";

export function demoHtml(demo: Config["demo"]): string {
  const variants = demo.variants;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>House of Cards: massive weights, side by side</title>
<link rel="icon" href="data:,">
<style>
  :root { font-family: system-ui, sans-serif; color: #1d2330; background: #f6f7f9; }
  body { max-width: 1100px; margin: 0 auto; padding: 1.5rem; }
  h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
  p.lead { margin: 0 0 1rem; color: #4a5263; }
  form { display: flex; gap: .5rem; }
  textarea { flex: 1; font: inherit; padding: .6rem; border: 1px solid #c5cad3; border-radius: 6px; min-height: 3.2rem; }
  button { font: inherit; padding: 0 1.2rem; border: 0; border-radius: 6px; background: #2753d6; color: white; cursor: pointer; }
  button:disabled { background: #8a9bd0; }
  #answers { display: grid; grid-template-columns: repeat(${variants.length}, 1fr); gap: .75rem; margin: 1rem 0; }
  .answer { background: white; border: 1px solid #dde1e8; border-radius: 8px; padding: .75rem; min-height: 8rem; }
  .answer h2 { font-size: .95rem; margin: 0 0 .5rem; font-family: ui-monospace, monospace; }
  .answer pre { white-space: pre-wrap; word-break: break-word; margin: 0; font: .9rem/1.4 ui-monospace, monospace; }
  .meta { color: #5b6475; font-size: .8rem; margin-top: .5rem; }
  #chart-box { background: white; border: 1px solid #dde1e8; border-radius: 8px; padding: .75rem; }
  #chart-box h2 { font-size: 1rem; margin: 0 0 .5rem; }
  #error { color: #b42318; }
  .legend span { display: inline-block; width: .8rem; height: .8rem; margin: 0 .3rem 0 .8rem; vertical-align: middle; }
</style>
</head>
<body>
<h1>House of Cards: massive weights, side by side</h1>
${robustnessTab()}
<p class="lead">One prompt, ${variants.length} variants of the same model: <code>base</code>, the top-k massive weights zeroed
(<code>massive-zero</code>), and only those kept (<code>massive-retain</code>)${
    variants.includes("macdrop")
      ? ", an adapter trained with MacDrop (<code>macdrop</code>), and that adapter with the massive weights zeroed (<code>macdrop+massive-zero</code>)"
      : ""
  }. See arXiv 2410.01866.</p>
<form id="form">
  <textarea id="prompt" name="prompt" maxlength="${demo.maxPromptChars}" aria-label="prompt">Once upon a time</textarea>
  <button id="go" type="submit">Compare</button>
</form>
${browserSwitchHtml()}
<p id="error" role="alert"></p>
<div id="answers">
${variants.map((v) => `  <section class="answer" data-variant="${v}"><h2>${v}</h2><pre></pre><div class="meta"></div></section>`).join("\n")}
</div>
<div id="chart-box">
  <h2>Massive-activation profile at the first token (max |value| / median, log scale)</h2>
  <div class="legend"><span style="background:#2753d6"></span>hidden state<span style="background:#e07b24"></span>FFN intermediate state</div>
  <svg id="chart" width="100%" height="260" viewBox="0 0 1000 260" role="img" aria-label="massive activation chart"></svg>
  <p class="meta" id="chart-note"></p>
</div>
<script>${script(demo.maxTokens, demo.compareMaxTokens)}</script>
</body>
</html>`;
}
