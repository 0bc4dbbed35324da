#!/usr/bin/env bash
# Builds the runner's image (gpu-runner/Dockerfile, the file `docker build` and `wrangler deploy` use) on a
# machine with no Docker daemon and no registry: Debian's buildah builds it, from a Debian base made here with
# mmdebstrap, with torch from a local wheel folder. As root:
#   bash scripts/container.sh build          # tools (apt, once), base (once), image (layer cache); prints size
#   bash scripts/container.sh size           # the image's size in bytes (`budget`: the most it may be)
#   bash scripts/container.sh image-vars     # wrangler.toml's image_vars for building here (scripts/test-ts.sh)
#   bash scripts/container.sh run [OPTIONS] IMAGE [ARGS]   # `podman run` as it works here, host network:
#   bash scripts/container.sh run --rm localhost/house-runner:cpu   # the runner on 0.0.0.0:8100
#   bash scripts/container.sh docker ARGS    # the Docker CLI for wrangler (scripts/podman-docker.sh calls it)
# Settings (environment): IMAGE (localhost/house-runner:cpu), BASE_IMAGE (localhost/house-base:bookworm-py311),
# WHEELS (/opt/wheels: a folder holding a CPU torch wheel for Python 3.11), TORCH_SPEC (torch==2.13.0+cpu),
# PYPI (https://pypi.org/simple: where the rest of the packages come from), CA_BUNDLE (this machine's CAs).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
caller="$PWD"
cd "$root"
IMAGE="${IMAGE:-localhost/house-runner:cpu}"
BASE_IMAGE="${BASE_IMAGE:-localhost/house-base:bookworm-py311}"
WHEELS="${WHEELS:-/opt/wheels}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0+cpu}"
PYPI="${PYPI:-https://pypi.org/simple}"
MIRROR="${MIRROR:-http://deb.debian.org}"
CA_BUNDLE="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
# Size budget of the CPU image, checked after each build (1.58 GB measured: torch CPU alone is ~0.9 GB).
SIZE_BUDGET="${SIZE_BUDGET:-1800000000}"
# podman as it works here: runc with cgroupfs (Debian's crun refuses this machine's hybrid cgroup layout).
podman=(podman --runtime runc --cgroup-manager cgroupfs)

tools() {
  # buildah builds without a daemon; mmdebstrap makes the base; podman (with runc) runs the image and is the
  # Docker CLI wrangler calls.
  local missing=()
  for t in buildah:buildah mmdebstrap:mmdebstrap podman:podman runc:runc; do
    command -v "${t%%:*}" >/dev/null || missing+=("${t##*:}")
  done
  [ ${#missing[@]} -eq 0 ] && return
  echo "== installing ${missing[*]} (Debian packages)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

base() {
  # No base image can be pulled: make Debian bookworm (its python3 is 3.11, the wheel's ABI) with python3-pip,
  # once (`podman rmi` it to take Debian's updates). The Dockerfile's first RUN finds python3 and pip there.
  buildah inspect --type image "$BASE_IMAGE" >/dev/null 2>&1 && return
  echo "== making the base image $BASE_IMAGE (mmdebstrap, Debian bookworm)" >&2
  local tmp
  tmp="$(mktemp -d)"
  mmdebstrap --quiet --variant=minbase --include=python3,python3-pip,ca-certificates \
    --aptopt='APT::Install-Recommends "false"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    bookworm "$tmp/base.tar" \
    "deb $MIRROR/debian bookworm main" "deb $MIRROR/debian bookworm-updates main" \
    "deb $MIRROR/debian-security bookworm-security main"
  podman import --quiet --change 'CMD ["/bin/bash"]' "$tmp/base.tar" "$BASE_IMAGE" >/dev/null
  rm -rf "$tmp"
}

# What every build here mounts for its RUN steps (never copied into a layer): the wheel folder, and this
# machine's CA bundle over the image's own, for networks whose HTTPS proxy signs with a local CA.
mounts=(--isolation chroot --layers --volume "$WHEELS:/wheels:ro" --volume "$CA_BUNDLE:/etc/ssl/certs/ca-certificates.crt:ro")

image() {
  # chroot isolation: the RUN steps need no user namespace.
  [ -n "$(ls "$WHEELS"/torch-*cp311*.whl 2>/dev/null)" ] || {
    echo "no torch wheel for Python 3.11 in $WHEELS: set WHEELS to a folder holding one" >&2
    exit 2
  }
  echo "== building $IMAGE from gpu-runner/Dockerfile (buildah, layer cache)" >&2
  buildah bud --quiet "${mounts[@]}" -f gpu-runner/Dockerfile -t "$IMAGE" \
    --build-arg BASE="$BASE_IMAGE" --build-arg TORCH_INDEX="$PYPI" \
    --build-arg TORCH_SPEC="$TORCH_SPEC" --build-arg TORCH_WHEELS=/wheels . >&2
  # Layers no tagged image stands on (earlier builds') go; the cache of this build stays.
  podman image prune --force >/dev/null
}

docker() {
  # The `docker` wrangler calls (scripts/podman-docker.sh): podman, with buildx's flags that podman 4.3 lacks
  # dropped (--provenance; --load: a podman build always lands in the local store), and `-f -` (the Dockerfile
  # on stdin) read into a file, since podman opens /dev/stdin, which fails on the socket Node gives a child.
  [ "${1:-}" = build ] || exec "${podman[@]}" "$@"
  shift
  local args=() prev=
  dockerfile="$(mktemp)" # global: the EXIT trap runs after this function has returned
  trap 'rm -f "$dockerfile"' EXIT
  for a in "$@"; do
    case "$prev:$a" in
      -f:-) cat > "$dockerfile" && args+=("$dockerfile") ;;
      *:--provenance=* | *:--load) ;;
      *) args+=("$a") ;;
    esac
    prev="$a"
  done
  "${podman[@]}" build "${mounts[@]}" "${args[@]}"
}

size() { buildah inspect --type image --format '{{.ImageSize}}' "$IMAGE" 2>/dev/null || podman image inspect --format '{{.Size}}' "$IMAGE"; }

case "${1:-build}" in
  tools) tools ;;
  base) tools && base ;;
  build)
    start=$(date +%s)
    tools
    base
    image
    bytes="$(size)"
    echo "image $IMAGE: $bytes bytes (budget $SIZE_BUDGET), built in $(($(date +%s) - start)) s"
    [ "$bytes" -le "$SIZE_BUDGET" ] || {
      echo "the image is over its size budget: slim it, or raise SIZE_BUDGET in scripts/container.sh with a reason" >&2
      exit 1
    }
    ;;
  budget) echo "$SIZE_BUDGET" ;;
  image-vars)
    # wrangler.toml's image_vars for a build here (scripts/podman-docker.sh mounts WHEELS at /wheels).
    echo "image_vars = { BASE = \"$BASE_IMAGE\", TORCH_INDEX = \"$PYPI\", TORCH_SPEC = \"$TORCH_SPEC\", TORCH_WHEELS = \"/wheels\" }"
    ;;
  size) size ;;
  podman)
    shift
    exec "${podman[@]}" "$@"
    ;;
  docker)
    shift
    cd "$caller" # wrangler's paths may be relative to where it runs
    docker "$@"
    ;;
  run)
    # rlimits no higher than this process has: podman's defaults are higher, and raising them needs
    # CAP_SYS_RESOURCE, which root lacks in a sandbox (nproc counts the runner user's threads; 4096 is plenty).
    shift
    exec "${podman[@]}" run --network host \
      --ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit nproc=4096:4096 "$@"
    ;;
  *)
    echo "usage: bash scripts/container.sh [tools|base|build|size|budget|image-vars|podman ARGS|docker ARGS|run [OPTIONS] IMAGE [ARGS]]" >&2
    exit 2
    ;;
esac
