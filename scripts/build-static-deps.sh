#!/usr/bin/env bash
# Builds the static libraries the fully static binaries need and Debian does not ship as .a, from the
# Debian source packages of bookworm (the mirror this machine's apt sources name), pinned to bookworm's
# versions, into a cache outside the clone:
#
#   libcurl    HTTP/1.1 + TLS (OpenSSL) + c-ares only: no HTTP/2, SSH, LDAP, GSSAPI, IDN, PSL, compression.
#              c-ares reads /etc/hosts and /etc/resolv.conf itself: no NSS, which a static glibc cannot load.
#              No .netrc (getpwuid_r is NSS) and no openssl.cnf (it may name modules to dlopen; Debian 12's
#              names none, so TLS behaves as before).
#
# Debian's own static archives are used for the rest (libssl.a, libcrypto.a, libcares.a, libnl-*.a,
# libldns.a, glibc): scripts/setup.sh installs their -dev packages. nf_tables needs no library: common/nfnl
# speaks its netlink protocol itself.
#
#   scripts/build-static-deps.sh                 build unless cached; print the prefix (last line)
#   scripts/build-static-deps.sh --print-prefix  print the prefix; fail when it is not built
#   OVL_STATIC_DEPS_CACHE=/var/cache/overlay-cni/static-deps   OVL_STATIC_DEPS_JOBS=2
#
# The cache key is the pinned versions plus a hash of this script (the recipe): a clean clone on the same
# machine reuses the build; changing a version or a configure option builds a new one next to it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib/apt-private.sh
. "$top/scripts/lib/apt-private.sh"

CURL_VERSION=7.88.1-10+deb12u15

cache=${OVL_STATIC_DEPS_CACHE:-/var/cache/overlay-cni/static-deps}
jobs=${OVL_STATIC_DEPS_JOBS:-2}
recipe=$(sha256sum "$0" | cut -c1-12)
prefix="$cache/curl-$CURL_VERSION.$recipe"

if [ -f "$prefix/.complete" ]; then
  echo "$prefix"
  exit 0
fi
if [ "${1:-}" = --print-prefix ]; then
  echo "build-static-deps: $prefix is not built: run scripts/setup.sh (or scripts/build-static-deps.sh)" >&2
  exit 1
fi

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9  # another clone may be building the same key: wait for it, then reuse its result
if [ -f "$prefix/.complete" ]; then
  echo "$prefix"
  exit 0
fi

start=$(date +%s)
work=$(mktemp -d "$cache/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
log="$work/build.log"
echo "build-static-deps: building into $prefix (log: $log while it runs)" >&2

# --- sources: apt-get source from a private deb-src list ----------------------------------------------
uri=$(debian_mirror)
[ -n "$uri" ] || { echo "build-static-deps: cannot find the Debian mirror in the apt sources" >&2; exit 1; }
sec=$(debian_security_mirror)
{
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri bookworm main"
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri bookworm-updates main"
  [ -z "$sec" ] || echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $sec bookworm-security main"
} > "$work/sources.list"
apt_private_init "$work"
apt-get "${APT_PRIVATE[@]}" update -qq
mkdir "$work/src"
# $@: package=version ...; fails when one of them cannot be fetched
fetch() {
  (cd "$work/src" && apt-get "${APT_PRIVATE[@]}" source -qq "$@" >>"$log" 2>&1)
}
fetch "curl=$CURL_VERSION" || {
  echo "build-static-deps: apt-get source curl=$CURL_VERSION failed (is it still on the mirror?)" >&2
  tail -20 "$log" >&2
  exit 1
}
stage="$work/stage"
export PKG_CONFIG_PATH="$stage$prefix/lib/pkgconfig"
# Function sections: cmake/hot-text.ld places the libcurl functions a plugin runs, not whole files.
export CFLAGS="-O2 -g0 -fPIC -ffunction-sections -fdata-sections"
# $1: source dir glob, rest: configure options
build() {
  local dir
  dir=$(echo "$work"/src/$1)
  echo "build-static-deps: $(basename "$dir")" >&2
  (cd "$dir" && ./configure --prefix="$prefix" --enable-static --disable-shared "${@:2}" >>"$log" 2>&1 \
    && make -j"$jobs" >>"$log" 2>&1 && make install DESTDIR="$stage" >>"$log" 2>&1) || {
    echo "build-static-deps: $(basename "$dir") failed; the end of its log:" >&2
    tail -40 "$log" >&2
    exit 1
  }
}

build "curl-7.88.1" --with-openssl --enable-ares --disable-ldap --disable-ldaps --disable-rtsp --disable-dict \
  --disable-telnet --disable-tftp --disable-pop3 --disable-imap --disable-smb --disable-smtp --disable-gopher \
  --disable-mqtt --disable-ftp --disable-file --disable-manual --disable-ntlm --disable-ntlm-wb \
  --disable-kerberos-auth --disable-negotiate-auth --without-nghttp2 --without-nghttp3 --without-ngtcp2 \
  --without-libidn2 --without-libpsl --without-brotli --without-zstd --without-zlib --without-librtmp \
  --without-libssh2 --without-libssh --without-gssapi --without-libgsasl --disable-netrc \
  --disable-openssl-auto-load-config

# Only what linking needs: headers, archives, pkg-config files.
mkdir -p "$(dirname "$prefix")"
rm -rf "$prefix"
mv "$stage$prefix" "$prefix"
rm -rf "$prefix/bin" "$prefix/share" "$prefix/lib"/*.la
printf 'curl %s\nrecipe %s\nbuilt %s in %ss\n' "$CURL_VERSION" "$recipe" "$(date -u +%FT%TZ)" \
  "$(($(date +%s) - start))" > "$prefix/VERSIONS"
touch "$prefix/.complete"
echo "build-static-deps: done in $(($(date +%s) - start)) s" >&2
echo "$prefix"
