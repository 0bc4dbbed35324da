// The runner's image (gpu-runner/Dockerfile), built with buildah and served from with podman, in Node.
// Root only (buildah and podman need it here). Run: npm run test:container
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    root: import.meta.dirname,
    include: ["**/*.test.ts"],
    environment: "node",
    globalSetup: ["./global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 240_000,
    fileParallelism: false,
  },
});
