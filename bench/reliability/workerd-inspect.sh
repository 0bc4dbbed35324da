#!/usr/bin/env bash
# workerd as `wrangler dev` starts it, plus an inspector on wrangler's own proxy process, so that the memory
# benches can read its V8 heaps and force a full GC in it too (wrangler opens an inspector on the Worker's
# process only). Use: MINIFLARE_WORKERD_PATH=bench/reliability/workerd-inspect.sh, with
# WORKERD_PROXY_INSPECTOR=127.0.0.1:<port>; the proxy is the process whose `entry` socket is a fixed
# public port (the Worker's own is on port 0). Everything else is passed through unchanged.
real="$(dirname "$0")/../../node_modules/@cloudflare/workerd-linux-64/bin/workerd"
for a in "$@"; do
  if [[ "$a" == --socket-addr=entry=* && "$a" != *:0 && -n "${WORKERD_PROXY_INSPECTOR:-}" ]]; then
    exec "$real" "$@" "--inspector-addr=$WORKERD_PROXY_INSPECTOR"
  fi
done
exec "$real" "$@"
