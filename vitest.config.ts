// Gateway tests in the real workerd runtime (@cloudflare/vitest-pool-workers) with a real local D1, the
// migrations applied, and a FAKE runner Worker (test/fixtures/fake-runner.mjs) behind the RUNNER service
// binding. The fake imports the gateway's wire contract, so it is bundled first (esbuild) into build/.
// The end-to-end and browser tests run in Node: test/e2e/vitest.config.ts; the image tests: test/container/.
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { build } from "esbuild";
import { defineConfig } from "vitest/config";

const FAKE_RUNNER = "build/fake-runner.mjs";

export default defineConfig(async () => {
  const migrations = await readD1Migrations("migrations");
  await build({
    entryPoints: ["test/fixtures/fake-runner.mjs"],
    outfile: FAKE_RUNNER,
    bundle: true,
    format: "esm",
    platform: "neutral",
    logLevel: "warning",
  });
  return {
    plugins: [
      cloudflareTest({
        main: "src/index.ts",
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            TEST_MIGRATIONS: migrations,
            ADMIN_TOKEN: "test-admin-token",
            RUNNER_TARGETS: JSON.stringify([{ name: "ok", url: "http://ok.runner" }]),
            RUNNER_TIMEOUT_MS: "300",
            FUZZ_RUNS: process.env.FUZZ_RUNS ?? "60", // test/fuzz.test.ts; FUZZ_RUNS=2000 for the long mode
          },
          serviceBindings: { RUNNER: "fake-runner" },
          // As wrangler bundles them by default: the held-out text the campaigns read (src/campaigns/tasks.ts).
          modulesRules: [{ type: "Text", include: ["**/*.txt"] }],
          workers: [
            {
              name: "fake-runner",
              modules: true,
              scriptPath: FAKE_RUNNER,
              compatibilityDate: "2026-04-20",
            },
          ],
        },
      }),
    ],
    test: {
      include: ["test/**/*.test.ts"],
      exclude: ["test/e2e/**", "test/container/**"],
      setupFiles: ["test/setup.ts"],
    },
  };
});
