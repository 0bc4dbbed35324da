#!/usr/bin/env bash
# The `docker` that wrangler calls (WRANGLER_DOCKER_BIN) on a machine with podman and no Docker: podman as
# scripts/container.sh runs it, with buildx's flags that podman 4.3 lacks dropped (--provenance, --load: a
# podman build always lands in the local store) and the build fed as scripts/container.sh feeds it (chroot
# isolation, the torch wheel folder and this machine's CA bundle mounted for the RUN steps, layer cache).
#   WRANGLER_DOCKER_BIN="$PWD/scripts/podman-docker.sh" npx wrangler deploy --dry-run -c CONFIG
set -euo pipefail
WHEELS="${WHEELS:-/opt/wheels}"
CA_BUNDLE="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
podman=(podman --runtime runc --cgroup-manager cgroupfs)
if [ "${1:-}" = build ]; then
  shift
  # `-f -` (the Dockerfile on stdin): podman opens /dev/stdin, which fails on the socket Node gives a child
  # as stdin; hand it a file instead.
  dockerfile="$(mktemp)"
  trap 'rm -f "$dockerfile"' EXIT
  args=()
  prev=
  for a in "$@"; do
    case "$prev:$a" in
      -f:-) cat > "$dockerfile" && args+=("$dockerfile") ;;
      *:--provenance=* | *:--load) ;;
      *) args+=("$a") ;;
    esac
    prev="$a"
  done
  "${podman[@]}" build --isolation chroot --layers \
    --volume "$WHEELS:/wheels:ro" --volume "$CA_BUNDLE:/etc/ssl/certs/ca-certificates.crt:ro" "${args[@]}"
  exit
fi
exec "${podman[@]}" "$@"
