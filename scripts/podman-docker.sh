#!/usr/bin/env bash
# The `docker` that wrangler calls (WRANGLER_DOCKER_BIN must name one executable) on a machine with podman and
# no Docker: scripts/container.sh's `docker`, which builds as that script does (chroot isolation, the torch
# wheel folder and this machine's CA bundle mounted, layer cache).
#   WRANGLER_DOCKER_BIN="$PWD/scripts/podman-docker.sh" npx wrangler deploy --dry-run -c CONFIG
exec bash "$(dirname "$0")/container.sh" docker "$@"
