// What the rate limiter does locally (issue 11, item 11): one API key (KEY_LIMITER, 600 a minute) and one
// demo client (DEMO_LIMITER, 30 a minute) send requests at a steady rate through the gateway under
// `wrangler dev` (Miniflare's rate-limit binding) for over two minutes, and every answer's time and status
// is kept. Writes bench/reliability/limiter.md and limiter.json: how many passed in each wall-clock minute
// and in each sliding 60 s, and when refusals began and ended.
// Run: node bench/reliability/limiter.mjs   (LIMITER_SECONDS, LIMITER_RPS to change it)
// The runner here is a stub that answers /health: the limiter runs before any runner is called.
import { writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { post, root, startGateway, stop } from "./servers.mjs";

const SECONDS = Number(process.env.LIMITER_SECONDS ?? 130);
const RPS = Number(process.env.LIMITER_RPS ?? 20); // per caller: 20/s passes 600/min in 30 s
const RUNNER_PORT = 8720;
const GATEWAY_PORT = 8721;

const stub = createServer((req, res) => {
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ status: "ok", model: { id: "stub" }, variants: ["base"] }));
});
await new Promise((ok) => stub.listen(RUNNER_PORT, "127.0.0.1", ok));

/** Requests at `RPS` a second for `SECONDS`, each answer as [ms since epoch, status]. */
async function steady(url, headers) {
  const answers = [];
  const pending = [];
  const t0 = Date.now();
  for (let i = 0; Date.now() - t0 < SECONDS * 1000; i++) {
    const due = t0 + (i * 1000) / RPS;
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    pending.push(
      fetch(url, { headers }).then(
        async (res) => (await res.arrayBuffer(), answers.push([Date.now(), res.status])),
        () => answers.push([Date.now(), 0]),
      ),
    );
  }
  await Promise.all(pending);
  return answers.sort((a, b) => a[0] - b[0]);
}

function analyse(answers, limit) {
  const ok = answers.filter(([, s]) => s === 200).map(([t]) => t);
  const byMinute = {};
  for (const [t, s] of answers) {
    const m = new Date(Math.floor(t / 60000) * 60000).toISOString().slice(11, 16);
    byMinute[m] ??= { 200: 0, 429: 0, other: 0 };
    byMinute[m][s === 200 || s === 429 ? s : "other"]++;
  }
  let maxSliding = 0;
  for (let i = 0, j = 0; j < ok.length; j++) {
    while (ok[j] - ok[i] >= 60000) i++;
    maxSliding = Math.max(maxSliding, j - i + 1);
  }
  const refused = answers.filter(([, s]) => s === 429).map(([t]) => t);
  const resumed = refused.length ? ok.filter((t) => t > refused[0]) : [];
  const sec = (t) => (t === undefined ? null : ((t % 60000) / 1000).toFixed(1));
  return {
    limit,
    requests: answers.length,
    passed: ok.length,
    refused: refused.length,
    other: answers.length - ok.length - refused.length,
    per_wall_clock_minute: byMinute,
    most_passed_in_any_60s: maxSliding,
    first_refusal_at_second_of_minute: sec(refused[0]),
    first_pass_after_refusals_at_second_of_minute: sec(resumed[0]),
  };
}

let gateway;
try {
  const targets = JSON.stringify([{ name: "stub", url: `http://127.0.0.1:${RUNNER_PORT}`, kind: "runner" }]);
  gateway = await startGateway(GATEWAY_PORT, { vars: { RUNNER_TARGETS: targets } });
  const gw = `http://127.0.0.1:${GATEWAY_PORT}`;
  const { key } = await (
    await fetch(`${gw}/admin/keys`, post({ name: "limiter" }, { authorization: "Bearer reliab" }))
  ).json();
  const started = new Date().toISOString();
  const [keyed, demo] = await Promise.all([
    steady(`${gw}/v1/models`, { authorization: `Bearer ${key}` }),
    steady(`${gw}/v1/models`, {}),
  ]);
  const result = { started, seconds: SECONDS, rps: RPS, key: analyse(keyed, 600), demo: analyse(demo, 30) };
  writeFileSync(join(root, "bench/reliability/limiter.json"), JSON.stringify(result, null, 2) + "\n");
  console.log(JSON.stringify(result, null, 2));
} finally {
  stop(gateway);
  stub.close();
}
