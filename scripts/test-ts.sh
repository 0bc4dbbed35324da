#!/usr/bin/env bash
# The TypeScript half of `npm test` (scripts/test.sh calls it after setup): formatting, types, the gateway
# tests in workerd against a fake runner, the end-to-end and browser tests against a real runner, and the
# Workers bundle (`wrangler deploy --dry-run`). Run alone with `bash scripts/test-ts.sh`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error

echo "== prettier --check"
npx prettier --check src test tsconfig.json vitest.config.ts .prettierrc

echo "== tsc --noEmit"
npx tsc --noEmit -p .

echo "== vitest (workerd, fake runner, real D1)"
npx vitest run

echo "== wrangler deploy --dry-run"
npx wrangler deploy --dry-run --outdir dist >/dev/null
ls -l dist/index.js
