#!/usr/bin/env bash
# Builds the Dockerfile with buildah 1.28 on a machine without a registry or a Docker engine.
#
#   scripts/build-image.sh [-t TAG] [-o OCI_ARCHIVE] [-w WORKDIR | --tmp [--keep]]
#
# - The base image (docker.io/library/debian:bookworm) is made locally with mmdebstrap from the Debian
#   mirror this machine's apt sources name, then committed with `buildah from scratch` + `buildah commit`.
# - Storage, run state and configuration are private to WORKDIR, by default the machine's cache
#   /var/cache/overlay-cni/image (OVL_IMAGE_CACHE), kept between runs: --layers reuses the base image and the
#   build stage's apt-get layer, and the compiles go through WORKDIR/ccache, mounted into the build (the
#   Dockerfile compiles without it elsewhere). `COPY . .` hashes the sources: what follows it runs again
#   whenever they change. Runs take WORKDIR/.lock: one build at a time.
# - The storage is WORKDIR/bookworm-MONTH-KEY, KEY a hash of the mirror, the month and this script: a new
#   month, another mirror or a change to this script starts a new one (a new base image and apt-get layer) and
#   removes the old one. A storage that fails a check, or a build that fails in a reused storage, is wiped
#   and built again from scratch. Images no tag leads to are pruned after each build. To clear it all:
#   `rm -rf /var/cache/overlay-cni/image`.
# - --tmp builds in a new temporary directory instead, removed at the end unless --keep.
# - The build runs with --isolation chroot --network host and netns="host": buildah must never set up
#   its own CNI network (it would create cni-podman0, NAT rules and ip_forward=1 in the root namespace).
# - With -o, the image is also written as an OCI archive (for `ctr images import`, `podman load`, ...).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
tag=localhost/overlay-cni:dev
out=""
work=${OVL_IMAGE_CACHE:-/var/cache/overlay-cni/image}
tmp=0
keep=0
while (($#)); do
  case "$1" in
    -t) tag=$2; shift 2 ;;
    -o) out=$2; shift 2 ;;
    -w) work=$2; shift 2 ;;
    --tmp) tmp=1; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "build-image: unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v buildah >/dev/null || { echo "build-image: buildah is not installed (scripts/setup.sh)" >&2; exit 1; }
# shellcheck source=scripts/lib/apt-private.sh
. "$top/scripts/lib/apt-private.sh"
uri=$(debian_mirror)
[ -n "$uri" ] || { echo "build-image: cannot find the Debian mirror in the apt sources" >&2; exit 1; }

if ((tmp)); then
  work=$(mktemp -d -t overlay-cni-image.XXXXXX)
fi
mkdir -p "$work"
work=$(cd "$work" && pwd)
month=$(date -u +%Y-%m)
key=$(printf 'bookworm %s %s %s\n' "$uri" "$month" "$(sha256sum "$0" | cut -c1-12)" | sha256sum | cut -c1-12)
store="$work/bookworm-$month-$key"

# containers/image keeps a blob-info cache in /var/lib/containers/cache whatever the storage root is;
# remove it afterwards when this run created it.
varlib_created=0
[ -e /var/lib/containers ] || varlib_created=1

# $1: a directory; unmounts everything mounted below it, deepest first
unmount_under() {
  awk -v p="$1/" 'index($5, p) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
}

storage_ready=0
cleanup() {
  local rc=$?
  if ((storage_ready)); then
    # Nothing stays behind: no working container, no mounted layer (the overlay driver's mounts).
    buildah rm --all >/dev/null 2>&1 || true
    unmount_under "$work"
    find "$store/tmp" -mindepth 1 -delete 2>/dev/null || true
  fi
  if ((varlib_created)); then rm -rf /var/lib/containers; fi
  if ((tmp && !keep)); then rm -rf "$work"; fi
  exit $rc
}
trap cleanup EXIT

exec 9>"$work/.lock"
if ! flock -n 9; then
  echo "build-image: waiting for another build in $work" >&2
  flock -w 1800 9 || { echo "build-image: $work is still locked after 30 min" >&2; exit 1; }
fi
# A run killed outside a private mount namespace leaves its mounts; an older key leaves its storage.
unmount_under "$work"
for old in "$work"/bookworm-*; do
  if [ -d "$old" ] && [ "$old" != "$store" ]; then
    echo "build-image: removing the storage of an older key, $old" >&2
    rm -rf "$old"
  fi
done

# --- private configuration ------------------------------------------------------------------------
# The run root (mount counts, container state) and temporary files start empty every run: what a killed run
# left there does not outlive it. The storage itself is checked below.
setup_storage() {
  rm -rf "$store/run" "$store/tmp"
  mkdir -p "$store/storage" "$store/run" "$store/tmp"
  cat > "$store/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$store/storage"
runroot = "$store/run"
CONF
  cat > "$store/registries.conf" <<CONF
unqualified-search-registries = []
CONF
  cat > "$store/containers.conf" <<CONF
[containers]
netns = "host"
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$store/run/events.log"
tmp_dir = "$store/tmp"
[network]
network_config_dir = "$store/net.d"
CONF
}
wipe_storage() {
  unmount_under "$store"
  rm -rf "$store"
  setup_storage
}
setup_storage
export CONTAINERS_STORAGE_CONF="$store/storage.conf"
export CONTAINERS_REGISTRIES_CONF="$store/registries.conf"
export CONTAINERS_CONF="$store/containers.conf"
export TMPDIR="$store/tmp"
export BUILDAH_ISOLATION=chroot
storage_ready=1
# Working containers of a killed run go; a storage buildah cannot read is replaced.
if ! buildah rm --all >/dev/null 2>&1 || ! buildah images --all >/dev/null 2>&1; then
  echo "build-image: the storage in $store fails a check: starting a new one" >&2
  wipe_storage
fi

# --- the base image -------------------------------------------------------------------------------
base=docker.io/library/debian:bookworm
make_base() {
  local ctr mnt hooks=()
  command -v mmdebstrap >/dev/null || { echo "build-image: mmdebstrap is not installed" >&2; exit 1; }
  echo "build-image: making $base with mmdebstrap from $uri" >&2
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri bookworm main" > "$store/sources.list"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri bookworm-updates main" >> "$store/sources.list"
  [ -d /usr/share/mmdebstrap/hooks/merged-usr ] && hooks=(--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr)
  if ! mmdebstrap --quiet --format=tar --variant=minbase "${hooks[@]}" bookworm "$store/tmp/base.tar" "$store/sources.list"; then
    echo "build-image: mmdebstrap failed (is the Debian mirror $uri reachable?)" >&2
    exit 3
  fi
  ctr=$(buildah from --pull=never scratch)
  mnt=$(buildah mount "$ctr")
  tar -C "$mnt" -xf "$store/tmp/base.tar"
  buildah umount "$ctr" >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd /bin/bash "$ctr"
  buildah commit --quiet "$ctr" "$base" >/dev/null
  buildah rm "$ctr" >/dev/null
  rm -f "$store/tmp/base.tar"
}
reused=0
if buildah inspect --type image "$base" >/dev/null 2>&1; then
  reused=1
else
  make_base
fi

# --- the build ------------------------------------------------------------------------------------
# The build stage links the static binaries: it reuses this machine's build of the libraries Debian has no
# static archive of (the same pinned versions and recipe give the same cache key inside the image), and
# compiles through the compiler cache (ccache checks the compiler and hashes every source and header).
mkdir -p "$work/ccache"
echo "max_size = 1G" > "$work/ccache/ccache.conf"
volumes=(--volume "$work/ccache:/var/cache/overlay-cni/ccache")
deps_cache=${OVL_STATIC_DEPS_CACHE:-/var/cache/overlay-cni/static-deps}
[ -d "$deps_cache" ] && volumes+=(--volume "$deps_cache:/var/cache/overlay-cni/static-deps")
# The build stage is tagged too, so that pruning keeps its layers (the apt-get one above all) for the next run.
stage_tag=localhost/overlay-cni-build-stage:cache
bud() {
  buildah bud --pull=never --isolation chroot --network host --layers "${volumes[@]}" -f "$top/Dockerfile" "$@" "$top"
}
build() {
  echo "build-image: building $tag" >&2
  bud -t "$tag" && bud --quiet --target build -t "$stage_tag" >/dev/null
}
if ! build; then
  ((reused)) || exit 1
  echo "build-image: the build failed in the reused storage $store: once more in a new one" >&2
  wipe_storage
  make_base
  build
fi
buildah rmi --prune >/dev/null || echo "build-image: pruning the unused images failed, ignoring" >&2
if [ -n "$out" ]; then
  rm -f "$out"
  buildah push --quiet "$tag" "oci-archive:$out:$tag" >/dev/null
  echo "build-image: wrote $out" >&2
fi
buildah images "$tag"
