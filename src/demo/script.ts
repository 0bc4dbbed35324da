// The demo page's browser script, as a string: stream /v1/compare, draw /demo/massive as an SVG bar chart.
export function script(maxTokens: number, compareMaxTokens = 256): string {
  return `
const $ = (s) => document.querySelector(s);
const panes = Object.fromEntries([...document.querySelectorAll(".answer")].map((el) => [el.dataset.variant, el]));

$("#form").addEventListener("submit", (e) => { e.preventDefault(); run($("#prompt").value); });

async function run(prompt) {
  $("#go").disabled = true;
  $("#error").textContent = "";
  for (const el of Object.values(panes)) { el.querySelector("pre").textContent = ""; el.querySelector(".meta").textContent = ""; }
  try {
    await Promise.all([streamCompare(prompt), drawMassive(prompt)]);
  } catch (err) {
    $("#error").textContent = String(err.message || err);
  } finally {
    $("#go").disabled = false;
  }
}

async function failure(res) {
  const body = await res.json().catch(() => null);
  return new Error(body?.error?.message || "HTTP " + res.status);
}

// Every pane answers: max_tokens x panes stays within the demo's compare cap (DEMO_COMPARE_MAX_TOKENS).
const maxTokens = () => Math.max(1, Math.min(${Math.min(48, maxTokens)}, Math.floor(${compareMaxTokens} / Object.keys(panes).length)));

async function streamCompare(prompt) {
  const res = await fetch("/v1/compare", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ prompt, variants: Object.keys(panes), max_tokens: maxTokens(), stream: true }),
  });
  if (!res.ok) throw await failure(res);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let i;
    while ((i = buf.indexOf("\\n\\n")) >= 0) {
      const line = buf.slice(0, i).replace(/^data: /, "");
      buf = buf.slice(i + 2);
      if (line === "[DONE]") continue;
      show(JSON.parse(line));
    }
  }
}

function show(ev) {
  if (ev.type === "delta") panes[ev.variant].querySelector("pre").textContent += ev.delta;
  if (ev.type === "done") panes[ev.variant].querySelector(".meta").textContent =
    (ev.usage?.completion_tokens ?? "?") + " tokens, " + Math.round(ev.latency_ms) + " ms, " + ev.finish_reason;
  if (ev.type === "summary") for (const d of ev.divergence) {
    const meta = panes[d.variant].querySelector(".meta");
    const gap = d.logprob_gap === null ? "n/a" : d.logprob_gap.toFixed(2);
    meta.textContent += " | overlap with " + d.reference + ": " + Math.round(100 * d.token_overlap) + "%, log-prob gap " + gap;
  }
}

async function drawMassive(prompt) {
  const res = await fetch("/demo/massive?prompt=" + encodeURIComponent(prompt));
  if (!res.ok) throw await failure(res);
  drawChart(await res.json());
}

// also drawn from the in-browser model's own run (src/demo/browser/chart.ts)
window.houseChart = drawChart;
function drawChart(m) {
  const layers = m.bos?.layers ?? [];
  const svg = $("#chart");
  const W = 1000, H = 260, pad = 36;
  const ratio = (s) => Math.log10(Math.max(1, s?.ratio ?? 1));
  const top = Math.max(3, ...layers.flatMap((l) => [ratio(l.hidden), ratio(l.inter)]));
  const slot = (W - 2 * pad) / Math.max(1, layers.length);
  const y = (v) => H - pad - (v / top) * (H - 2 * pad);
  let out = "";
  for (let t = 0; t <= Math.ceil(top); t++)
    out += '<line x1="' + pad + '" x2="' + (W - pad) + '" y1="' + y(t) + '" y2="' + y(t) + '" stroke="#e3e6eb"/>' +
      '<text x="4" y="' + (y(t) + 4) + '" font-size="11" fill="#5b6475">1e' + t + '</text>';
  if (m.threshold) out += '<line x1="' + pad + '" x2="' + (W - pad) + '" y1="' + y(Math.log10(m.threshold)) + '" y2="' + y(Math.log10(m.threshold)) + '" stroke="#b42318" stroke-dasharray="4 4"/>';
  layers.forEach((l, i) => {
    const x = pad + i * slot, w = Math.max(2, slot / 2 - 4);
    const mark = l.layer === m.massive_layer ? ' stroke="#111" stroke-width="2"' : "";
    out += '<rect class="bar" x="' + (x + 2) + '" y="' + y(ratio(l.hidden)) + '" width="' + w + '" height="' + (H - pad - y(ratio(l.hidden))) + '" fill="#2753d6"' + mark + '/>';
    out += '<rect class="bar" x="' + (x + 2 + w) + '" y="' + y(ratio(l.inter)) + '" width="' + w + '" height="' + (H - pad - y(ratio(l.inter))) + '" fill="#e07b24"' + mark + '/>';
    out += '<text x="' + (x + slot / 2) + '" y="' + (H - pad + 16) + '" font-size="11" text-anchor="middle" fill="#5b6475">' + l.layer + '</text>';
  });
  svg.innerHTML = out;
  $("#chart-note").textContent = m.massive_layer === null || m.massive_layer === undefined
    ? "No massive activation found in this model (no layer passes the threshold)."
    : "Massive layer: " + m.massive_layer + "; top-" + (m.top_k?.indices?.length ?? "k") + " massive weights (rows of up/gate): " + (m.top_k?.indices ?? []).join(", ") + ". Dashed line: threshold " + m.threshold + ".";
}

`;
}
