#!/usr/bin/env bash
# The TypeScript half of `npm test` (scripts/test.sh calls it after setup): formatting, types, the gateway
# tests in workerd against a fake runner, the end-to-end and browser tests against a real runner, and the
# Workers bundle (`wrangler deploy --dry-run`). Run alone with `bash scripts/test-ts.sh`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
# The browser test drives Debian's chromium (playwright downloads nothing); install it once, as root in CI.
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  echo "== installing chromium (Debian package) for the demo-page test"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

# lm-evaluation-harness for the test that scores a task through the gateway (its own venv; PyPI only).
lmeval_stamp="build/lmeval/.installed-lm-eval-0.4.13"
if [ ! -f "$lmeval_stamp" ]; then
  echo "== installing lm-evaluation-harness 0.4.13 into build/lmeval"
  python3 -m venv build/lmeval
  build/lmeval/bin/pip install -q --disable-pip-version-check "lm-eval[api]==0.4.13"
  touch "$lmeval_stamp"
fi

echo "== prettier --check"
npx prettier --check src test "bench/gateway/*.mjs" tsconfig.json vitest.config.ts .prettierrc
npx prettier --check attacks

echo "== wrangler types --check (the Env bindings in worker-configuration.d.ts match wrangler.toml)"
# wrangler types also types the secrets in .dev.vars, which `npm start` writes on this machine only: check
# against wrangler.toml alone, with .dev.vars set aside for the moment.
[ -f .dev.vars ] && mv .dev.vars .dev.vars.aside
types_ok=1
WRANGLER_SEND_METRICS=false npx wrangler types --include-runtime=false --strict-vars=false --check >/dev/null || types_ok=0
[ -f .dev.vars.aside ] && mv .dev.vars.aside .dev.vars
[ "$types_ok" = 1 ] || {
  echo "worker-configuration.d.ts is out of date: run npx wrangler types --include-runtime=false --strict-vars=false"
  echo "(with no .dev.vars present)"
  exit 1
}

echo "== tsc --noEmit"
npx tsc --noEmit -p . && npx tsc --noEmit -p test/e2e && npx tsc --noEmit -p attacks && npx tsc --noEmit -p test/container && npx tsc --noEmit -p src/demo/browser

echo "== vitest (workerd, fake runner, real D1)"
npx vitest run

echo "== vitest e2e (real runner on the tiny model, gateway in wrangler dev, openai SDK, headless Chromium)"
npx vitest run -c test/e2e/vitest.config.ts

echo "== vitest attacks (Node: transforms, statistics, records, a campaign against a real runner on the house model)"
npx vitest run -c attacks/vitest.config.ts

# The runner's image (issue 15): built with buildah and served from with podman; both need root.
container=0
[ "$(id -u)" = 0 ] && container=1
if [ "$container" = 1 ]; then
  echo "== vitest container (the runner's image built from gpu-runner/Dockerfile, served from on two models)"
  npx vitest run -c test/container/vitest.config.ts
else
  echo "== vitest container: skipped (needs root for buildah and podman)"
fi

echo "== wrangler deploy --dry-run"
ci_config=".wrangler-ci.toml"
trap 'rm -f "$ci_config"' EXIT
log="$(mktemp)"
if [ "$container" = 1 ]; then
  # Build the image from the real Dockerfile with podman as wrangler's docker, with this machine's image_vars
  # (a local base, torch from the wheel folder); the container test above left the layers cached.
  sed -e "s#^image_vars = .*#$(bash scripts/container.sh image-vars)#" wrangler.toml > "$ci_config"
  WRANGLER_DOCKER_BIN="$root/scripts/podman-docker.sh" \
    npx wrangler deploy --dry-run --outdir dist -c "$ci_config" > "$log" 2>&1 || { cat "$log"; exit 1; }
  grep -q "Successfully tagged" "$log" || { cat "$log"; echo "dry-run: the runner image was not built"; exit 1; }
else
  # Without root (no podman build here): the same config with the image as a registry path (the Worker
  # bundle, bindings, Durable Object and container declaration are all checked).
  sed -e 's#^image = .*#image = "registry.cloudflare.com/house-gateway/runner:latest"#' \
      -e '/^image_build_context/d' -e '/^image_vars/d' wrangler.toml > "$ci_config"
  npx wrangler deploy --dry-run --outdir dist -c "$ci_config" > "$log" 2>&1 || { cat "$log"; exit 1; }
fi
grep -q "runnercontainer" "$log" || { cat "$log"; echo "dry-run: the RunnerContainer container is missing"; exit 1; }
echo "bundle: $(wc -c < dist/index.js) bytes in dist/index.js"
