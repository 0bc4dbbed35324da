// End-to-end and browser tests, in Node: a real runner process, the gateway in workerd (wrangler dev),
// the official `openai` SDK and headless Chromium as the clients. Run: npx vitest run -c test/e2e/vitest.config.ts
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    root: import.meta.dirname,
    include: ["**/*.test.ts"],
    globalSetup: ["./global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    fileParallelism: false,
  },
});
