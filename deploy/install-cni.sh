#!/bin/sh
# Installs the overlay-cni plugins onto a node, the way the flannel and Calico installer images do.
#
# Mounts (host path -> container path):
#   /opt/cni/bin   -> /host/opt/cni/bin      required: the plugins are copied here
#   /etc/cni/net.d -> /host/etc/cni/net.d    optional: the conflist is written here
#
# Variables:
#   CNI_BIN_DIR      target directory for the binaries           (default /host/opt/cni/bin)
#   CNI_NET_DIR      target directory for the conflist           (default /host/etc/cni/net.d)
#   CNI_CONFLIST     conflist content (JSON) to install          (default: none, or CNI_CONFLIST_FILE)
#   CNI_CONFLIST_FILE a conflist file inside the image to install, e.g. /opt/overlay-cni/conf-examples/overlay-gwbridge.conflist
#   CNI_CONFLIST_NAME file name of the installed conflist        (default 10-overlay.conflist)
#   OVL_NODE_CONFIG_JSON  node config content, written to $OVL_NODE_CONFIG_DEST (mode 0600) when set
#   OVL_NODE_CONFIG_DEST  default /host/etc/cni/overlay-node.json: mount the node's /etc/cni at /host/etc/cni
#   OVL_CONSUL_TOKEN      the node's Consul token (from a Secret), written to $OVL_CONSUL_TOKEN_DEST
#                         (mode 0600) when set; name that file as consul.tokenFile in the node config
#   OVL_CONSUL_TOKEN_DEST default /host/etc/cni/overlay-consul-token (the node's /etc/cni/overlay-consul-token)
#   CNI_PLUGINS      which binaries of /opt/overlay-cni/bin to install (default "overlay overlay-ipam gwbridge")
#   SLEEP            "true": stay running after installing (DaemonSet init pattern); default: exit 0
#
# Every file is written to a temporary name in the target directory and renamed, so a runtime never
# executes or parses a half-written file.
set -eu
umask 077  # the node config and the token file are readable by root only; others are chmod'ed explicitly

src=/opt/overlay-cni/bin
bin_dir=${CNI_BIN_DIR:-/host/opt/cni/bin}
net_dir=${CNI_NET_DIR:-/host/etc/cni/net.d}

log() { echo "install-cni: $*" >&2; }

install_file() {  # install_file SRC DEST MODE
  tmp="$2.tmp.$$"
  cp "$1" "$tmp"
  chmod "$3" "$tmp"
  mv -f "$tmp" "$2"
}

if [ "${1:-}" = "overlay" ]; then  # the watcher: `install-cni overlay watch`
  shift
  exec /opt/overlay-cni/bin/overlay "$@"
fi
if [ "${1:-}" = "overlay-resolver" ]; then  # the name resolver: `install-cni overlay-resolver`
  shift
  exec /opt/overlay-cni/bin/overlay-resolver "$@"
fi

[ -d "$bin_dir" ] || { log "$bin_dir does not exist: mount the node's /opt/cni/bin there"; exit 1; }
for name in ${CNI_PLUGINS:-overlay overlay-ipam gwbridge}; do
  [ -x "$src/$name" ] || { log "$src/$name is not in the image"; exit 1; }
  install_file "$src/$name" "$bin_dir/$name" 0755
  log "installed $bin_dir/$name"
done

conf_name=${CNI_CONFLIST_NAME:-10-overlay.conflist}
if [ -n "${CNI_CONFLIST:-}" ] || [ -n "${CNI_CONFLIST_FILE:-}" ]; then
  [ -d "$net_dir" ] || { log "$net_dir does not exist: mount the node's /etc/cni/net.d there"; exit 1; }
  tmp="$net_dir/.$conf_name.tmp.$$"
  if [ -n "${CNI_CONFLIST:-}" ]; then
    printf '%s\n' "$CNI_CONFLIST" > "$tmp"
  else
    cp "$CNI_CONFLIST_FILE" "$tmp"
  fi
  chmod 0644 "$tmp"
  mv -f "$tmp" "$net_dir/$conf_name"
  log "installed $net_dir/$conf_name"
fi

write_secret() {  # write_secret CONTENT DEST: mode 0600 from the start, then renamed into place
  tmp="$2.tmp.$$"
  rm -f "$tmp"
  (umask 077 && printf '%s\n' "$1" > "$tmp")
  chmod 0600 "$tmp"
  mv -f "$tmp" "$2"
  log "installed $2 (mode 0600)"
}
if [ -n "${OVL_NODE_CONFIG_JSON:-}" ]; then  # may hold consul.token
  write_secret "$OVL_NODE_CONFIG_JSON" "${OVL_NODE_CONFIG_DEST:-/host/etc/cni/overlay-node.json}"
fi
if [ -n "${OVL_CONSUL_TOKEN:-}" ]; then
  write_secret "$OVL_CONSUL_TOKEN" "${OVL_CONSUL_TOKEN_DEST:-/host/etc/cni/overlay-consul-token}"
fi

if [ "${SLEEP:-false}" = "true" ]; then
  log "done; sleeping"
  trap 'exit 0' TERM INT
  while :; do sleep 3600 & wait $!; done
fi
log "done"
