# Sourced by scripts that fetch from the Debian mirror this machine's apt sources name, through a private
# sources list and private state (the machine's own apt configuration is never changed).
#
#   debian_mirror              prints the mirror's URI (not the security archive)
#   debian_security_mirror     prints the security archive's URI, or nothing
#   apt_private_init DIR       makes DIR/lists, DIR/archives and sets APT_PRIVATE to the apt-get options that
#                              use DIR/sources.list (the caller writes it) and that state

# $1: awk condition on the URI (security or not)
_apt_sources_uri() {
  local want=$1 uri=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    uri=$(awk -v w="$want" '/^URIs:/ {s = ($2 ~ /security/); if ((w == "sec") == s) {print $2; exit}}' \
      /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk -v w="$want" '$1=="deb" {s = ($0 ~ /security/); if ((w == "sec") == s)
            for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)
  fi
  echo "$uri"
}

debian_mirror() { _apt_sources_uri main; }
debian_security_mirror() { _apt_sources_uri sec; }

apt_private_init() {
  local dir=$1
  mkdir -p "$dir/lists/partial" "$dir/archives/partial"
  APT_PRIVATE=(-o Dir::Etc::sourcelist="$dir/sources.list" -o Dir::Etc::sourceparts=- -o Dir::State::Lists="$dir/lists"
               -o Dir::Cache::archives="$dir/archives" -o APT::Get::List-Cleanup=0 -o APT::Sandbox::User=root)
}
