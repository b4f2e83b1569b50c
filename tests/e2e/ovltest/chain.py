"""Running a conflist the way libcni does: each plugin gets the list's name and cniVersion, a runtimeConfig
holding only the capabilities it declares, and on ADD the previous plugin's result; CHECK and DEL run the
list in reverse with the cached result as prevResult."""

import json
import os

from .plugins import run_plugin


class ChainError(AssertionError):
    """A plugin of the list failed: `plugin`, `command`, `rc`, the parsed error JSON `res`, `out`, `err`."""

    def __init__(self, plugin, command, cid, host, rc, res, out, err):
        self.plugin, self.command, self.rc, self.res, self.out, self.err = plugin, command, rc, res, out, err
        self.msg = (res or {}).get("msg") or out.strip() or err.strip()[-400:]
        super().__init__(f"{plugin} {command} for {cid} on {host} rc={rc}: {self.msg}")


def plugin_conf(cl, plugin, prev=None, runtime=None, gw_data_dir=None):
    """The stdin libcni builds for one plugin of conflist `cl`. gw_data_dir: where gwbridge's default
    IPAM keeps its leases (a per-host folder for simulated hosts)."""
    conf = json.loads(json.dumps(plugin))
    conf["cniVersion"] = cl["cniVersion"]
    conf["name"] = cl["name"]
    if plugin["type"] == "gwbridge" and gw_data_dir:
        ipam = conf.setdefault("ipam", {"type": "overlay-ipam", "subnet": "172.18.0.0/16",
                                        "pool": conf.get("bridge", "cni_gwbridge"), "store": "local"})
        ipam["dataDir"] = gw_data_dir
    caps = {k for k, v in plugin.get("capabilities", {}).items() if v}
    rc = {k: v for k, v in (runtime or {}).items() if k in caps}
    if rc:
        conf["runtimeConfig"] = rc
    conf.pop("capabilities", None)
    if prev is not None:
        conf["prevResult"] = prev
    return conf


def run_chain(topology, host, cl, command, cid, netns, ifname="eth0", args="", runtime=None, prev=None,
              extra_env=None, gw_data_dir=None):
    """Runs every plugin of `cl` for `command` inside `host`; returns the last ADD result (else `prev`).
    Raises ChainError at the first plugin that fails."""
    plugins = cl["plugins"] if command == "ADD" else list(reversed(cl["plugins"]))
    result = prev
    for p in plugins:
        conf = plugin_conf(cl, p, result if command == "ADD" else prev, runtime, gw_data_dir)
        rc, res, out, err = run_plugin(topology, host, p["type"], command, conf, cid, netns, ifname,
                                       cni_args=args, extra_env=extra_env)
        if rc != 0:
            raise ChainError(p["type"], command, cid, getattr(host, "name", host), rc, res, out, err)
        if command == "ADD":
            result = res
    return result


def data_dir(topology, host_name):
    return os.path.join(topology.tmpdir, f"{host_name}-networks")
