// The demo page's "robustness" tab: the latest published attack-campaign report for the default model
// (GET /demo/robustness, src/routes/campaigns.ts), shown in a sandboxed frame that loads when the tab is
// first opened. The tab bar switches between the page's own content and this panel without touching it:
// "compare" shows every other top-level element again, "robustness" hides them (the page's own elements
// are never edited, so other panes and switches added to the page keep working).
export function robustnessTab(): string {
  return `<style>
  .tabs { display: flex; gap: .25rem; margin: 0 0 1rem; }
  .tabs button { padding: .3rem 1rem; }
  .tabs button[aria-selected="false"] { background: #dde3f5; color: #1d2330; }
</style>
<nav class="tabs" role="tablist">
  <button type="button" role="tab" data-tab="compare" aria-selected="true">Compare</button>
  <button type="button" role="tab" data-tab="robustness" aria-selected="false">Robustness</button>
</nav>
<section id="robustness" hidden>
  <p class="lead">The latest published attack campaign on this model: accuracy and perplexity of each variant under
  prompt attacks, with 95% intervals and McNemar tests against <code>base</code>.</p>
  <iframe id="robustness-report" title="robustness report" sandbox="" style="width:100%;height:75vh;border:1px solid #dde1e8;border-radius:8px;background:white"></iframe>
</section>
<script>
(() => {
  const nav = document.currentScript.previousElementSibling.previousElementSibling;
  const panel = document.getElementById("robustness");
  const others = () => [...document.body.children].filter((el) => el !== nav && el !== panel && !["SCRIPT", "STYLE", "H1"].includes(el.tagName));
  for (const b of nav.querySelectorAll("button")) b.addEventListener("click", () => {
    const on = b.dataset.tab === "robustness";
    if (on === !panel.hidden) return;
    for (const x of nav.querySelectorAll("button")) x.setAttribute("aria-selected", String(x === b));
    for (const el of others()) el.style.display = on ? "none" : ""; // "hidden" loses to the page's display rules
    panel.hidden = !on;
    const frame = document.getElementById("robustness-report");
    if (on && !frame.src) frame.src = "/demo/robustness";
  });
})();
</script>`;
}
