#!/usr/bin/env bash
# Builds the Dockerfile with buildah 1.28 on a machine without a registry or a Docker engine.
#
#   scripts/build-image.sh [-t TAG] [-o OCI_ARCHIVE] [-w WORKDIR] [--keep]
#
# - The base image (docker.io/library/debian:bookworm) is made locally with mmdebstrap from the Debian
#   mirror this machine's apt sources name, then committed with `buildah from scratch` + `buildah commit`.
# - Storage, run state and configuration are private to WORKDIR (default: a new temporary directory,
#   removed at the end unless --keep); pass the same -w again to reuse the base image and layers.
# - The build runs with --isolation chroot --network host and netns="host": buildah must never set up
#   its own CNI network (it would create cni-podman0, NAT rules and ip_forward=1 in the root namespace).
# - With -o, the image is also written as an OCI archive (for `ctr images import`, `podman load`, ...).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
tag=localhost/overlay-cni:dev
out=""
work=""
keep=0
while (($#)); do
  case "$1" in
    -t) tag=$2; shift 2 ;;
    -o) out=$2; shift 2 ;;
    -w) work=$2; keep=1; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "build-image: unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v buildah >/dev/null || { echo "build-image: buildah is not installed (scripts/setup.sh)" >&2; exit 1; }

if [ -z "$work" ]; then
  work=$(mktemp -d -t overlay-cni-image.XXXXXX)
fi
mkdir -p "$work"
work=$(cd "$work" && pwd)

# containers/image keeps a blob-info cache in /var/lib/containers/cache whatever the storage root is;
# remove it afterwards when this run created it.
varlib_created=0
[ -e /var/lib/containers ] || varlib_created=1

cleanup() {
  local rc=$?
  if ((varlib_created)); then rm -rf /var/lib/containers; fi
  if [ -n "${ctr:-}" ]; then buildah rm "$ctr" >/dev/null 2>&1 || true; fi
  if ((keep == 0)); then
    buildah rm --all >/dev/null 2>&1 || true
    # Layers may still be mounted (overlay driver): unmount everything under the work dir first.
    # (no match is fine: grep's status must not turn a good build into a failure under pipefail)
    { grep -o " $work/[^ ]*" /proc/self/mountinfo || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
    rm -rf "$work"
  fi
  exit $rc
}
trap cleanup EXIT

# --- private configuration ------------------------------------------------------------------------
mkdir -p "$work/storage" "$work/run" "$work/tmp"
cat > "$work/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$work/storage"
runroot = "$work/run"
CONF
cat > "$work/registries.conf" <<CONF
unqualified-search-registries = []
CONF
cat > "$work/containers.conf" <<CONF
[containers]
netns = "host"
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$work/events.log"
tmp_dir = "$work/tmp"
[network]
network_config_dir = "$work/net.d"
CONF
export CONTAINERS_STORAGE_CONF="$work/storage.conf"
export CONTAINERS_REGISTRIES_CONF="$work/registries.conf"
export CONTAINERS_CONF="$work/containers.conf"
export TMPDIR="$work/tmp"
export BUILDAH_ISOLATION=chroot

# --- the base image -------------------------------------------------------------------------------
base=docker.io/library/debian:bookworm
# shellcheck source=scripts/lib/apt-private.sh
. "$top/scripts/lib/apt-private.sh"
if ! buildah inspect --type image "$base" >/dev/null 2>&1; then
  command -v mmdebstrap >/dev/null || { echo "build-image: mmdebstrap is not installed" >&2; exit 1; }
  uri=$(debian_mirror)
  [ -n "$uri" ] || { echo "build-image: cannot find the Debian mirror in the apt sources" >&2; exit 1; }
  echo "build-image: making $base with mmdebstrap from $uri" >&2
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri bookworm main" > "$work/sources.list"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri bookworm-updates main" >> "$work/sources.list"
  hooks=()
  [ -d /usr/share/mmdebstrap/hooks/merged-usr ] && hooks=(--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr)
  if ! mmdebstrap --quiet --format=tar --variant=minbase "${hooks[@]}" bookworm "$work/base.tar" "$work/sources.list"; then
    echo "build-image: mmdebstrap failed (is the Debian mirror $uri reachable?)" >&2
    exit 3
  fi
  ctr=$(buildah from --pull=never scratch)
  mnt=$(buildah mount "$ctr")
  tar -C "$mnt" -xf "$work/base.tar"
  buildah umount "$ctr" >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd /bin/bash "$ctr"
  buildah commit --quiet "$ctr" "$base" >/dev/null
  buildah rm "$ctr" >/dev/null
  ctr=""
  rm -f "$work/base.tar"
fi

# --- the build ------------------------------------------------------------------------------------
echo "build-image: building $tag" >&2
# The build stage links the static binaries: it reuses this machine's build of the libraries Debian has no
# static archive of (the same pinned versions and recipe give the same cache key inside the image).
volumes=()
deps_cache=${OVL_STATIC_DEPS_CACHE:-/var/cache/overlay-cni/static-deps}
[ -d "$deps_cache" ] && volumes=(--volume "$deps_cache:/var/cache/overlay-cni/static-deps")
buildah bud --pull=never --isolation chroot --network host --layers "${volumes[@]}" -t "$tag" -f "$top/Dockerfile" "$top"
if [ -n "$out" ]; then
  rm -f "$out"
  buildah push --quiet "$tag" "oci-archive:$out:$tag" >/dev/null
  echo "build-image: wrote $out" >&2
fi
buildah images "$tag"
