#!/usr/bin/env bash
# Installs everything the build, tests, demo and benchmarks need on a Debian 12 machine.
# Idempotent: when everything is present it returns in well under a second.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
CONSUL_DIR=${CONSUL_DIR:-/opt/overlay-cni/consul}

PACKAGES=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libnl-3-dev libnl-route-3-dev libnl-nf-3-dev rapidjson-dev libcurl4-openssl-dev libmsgsl-dev doctest-dev
  libldns-dev libc-ares-dev libssl-dev dpkg-dev
  ldnsutils dnsmasq-base nftables iproute2 iputils-ping busybox-static iperf3 procps psmisc conntrack
  containernetworking-plugins podman containerd runc buildah mmdebstrap debootstrap
  golang-go golang-github-appc-cni-dev python3-grpcio python3-yaml gnuplot-nox hyperfine strace curl jq
  prometheus
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # podman's package drops a default bridge conflist that ctr would pick up first; we never use it.
  rm -f /etc/cni/net.d/87-podman-bridge.conflist
fi

# Consul: Debian 12 has none; Debian 11 ships consul 1.8.7 as a static binary. Fetch it from the mirror
# this machine already uses, through a private sources list, and unpack it into a project-owned folder.
if [ ! -x "$CONSUL_DIR/usr/bin/consul" ]; then
  echo "setup: fetching consul from the Debian 11 archive" >&2
  # shellcheck source=scripts/lib/apt-private.sh
  . "$top/scripts/lib/apt-private.sh"
  uri=$(debian_mirror)
  [ -n "$uri" ] || { echo "setup: cannot find the Debian mirror in the apt sources" >&2; exit 1; }
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri bullseye main" > "$work/sources.list"
  apt_private_init "$work"
  apt-get "${APT_PRIVATE[@]}" update -qq
  (cd "$work" && apt-get "${APT_PRIVATE[@]}" download consul >/dev/null)
  mkdir -p "$CONSUL_DIR"
  dpkg-deb -x "$work"/consul_*.deb "$CONSUL_DIR"
  "$CONSUL_DIR/usr/bin/consul" version | head -1 >&2
fi

# The static binaries' libraries that Debian has no static archive of (scripts/build-static-deps.sh): built
# once into /var/cache/overlay-cni/static-deps, then found there in milliseconds.
"$top/scripts/build-static-deps.sh" >/dev/null
