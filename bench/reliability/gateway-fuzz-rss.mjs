// The gateway fuzz's long mode (test/fuzz.test.ts, fast-check in workerd) with the memory of its workerd
// process sampled every second from /proc. Writes bench/reliability/gateway-fuzz-rss.json.
// Run: FUZZ_RUNS=1250 node bench/reliability/gateway-fuzz-rss.mjs   (8 routes x 1,250 = 10,000 requests)
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { descendant, root, rssMib } from "./servers.mjs";

const runs = process.env.FUZZ_RUNS ?? "1250";
const vitest = spawn(join(root, "node_modules/.bin/vitest"), ["run", "test/fuzz.test.ts"], {
  cwd: root,
  env: { ...process.env, FUZZ_RUNS: runs },
  stdio: ["ignore", "inherit", "inherit"],
});
const samples = []; // [seconds since start, MiB]
const t0 = Date.now();
const timer = setInterval(() => {
  const pid = descendant(vitest.pid, "workerd");
  const mib = pid && rssMib(pid);
  if (mib) samples.push([(Date.now() - t0) / 1000, Math.round(mib)]);
}, 1000);
const code = await new Promise((ok) => vitest.on("exit", ok));
clearInterval(timer);
const mibs = samples.map(([, m]) => m);
const out = {
  when: new Date().toISOString(),
  fuzz_runs_per_route: Number(runs),
  vitest_exit_code: code,
  workerd_rss_mib: { first: mibs[0], last: mibs.at(-1), min: Math.min(...mibs), max: Math.max(...mibs) },
  samples,
};
writeFileSync(join(root, "bench/reliability/gateway-fuzz-rss.json"), JSON.stringify(out, null, 2) + "\n");
console.log(JSON.stringify(out.workerd_rss_mib), "exit", code);
