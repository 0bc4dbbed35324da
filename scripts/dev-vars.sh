#!/usr/bin/env bash
# Writes .dev.vars (the gateway's local secrets, read by `wrangler dev`) with a new ADMIN_TOKEN when it has
# none, so the admin routes work on every local start path (`npm start`, `npm run dev`). Idempotent.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
if ! grep -qs '^ADMIN_TOKEN=' .dev.vars; then
  token="$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"
  echo "ADMIN_TOKEN=$token" >> .dev.vars
  echo "dev-vars: wrote a new admin token to .dev.vars" >&2
fi
