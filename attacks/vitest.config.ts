// The attack module's tests, in Node (not workerd): transforms, statistics, campaign files, records, and an
// end-to-end campaign against a real runner on the house model. Run: npx vitest run -c attacks/vitest.config.ts
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    root: import.meta.dirname,
    include: ["test/**/*.test.ts"],
    environment: "node",
    testTimeout: 60_000,
    hookTimeout: 240_000,
    fileParallelism: false,
  },
});
