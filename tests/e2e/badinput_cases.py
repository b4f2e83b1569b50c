"""The bad-input battery's table (issue 7): every case must fail cleanly.

A case is a Case(plugin, category, name, code, culprit, ...). The runner (test_bad_input.py) starts from
the plugin's valid base configuration and environment, applies the case's changes, runs the plugin once
and asserts: non-zero exit, a CNI error JSON on stdout with `code`, a `msg` containing `culprit`, and no
change to the host's kernel state or to the stores.

Placeholders resolved by the runner:
  netns values: "@container" (a fresh empty netns), "@host" (/run/netns/<the plugin's own host>),
                "@self" (/proc/self/ns/net), "@pidns" (/proc/self/ns/pid), "@file" (a regular file),
                "@dir" (a directory), "@missing" (a path that does not exist)
  strings inside configs: "{tmp}" (the run's temporary directory)
"""

import copy
from dataclasses import dataclass, field
from typing import Callable, Optional

CID = "badinput-ctr1"  # the CNI_CONTAINERID of every case

# CNI error codes as common/util/error.hpp defines them.
VERSION, UNSUPPORTED, ENV, DECODE, CONFIG, AGAIN, INTERNAL = 1, 2, 4, 6, 7, 11, 100

PLUGINS = ("overlay", "ipam-file", "ipam-consul", "gwbridge")
BINARY = {"overlay": "overlay", "ipam-file": "overlay-ipam", "ipam-consul": "overlay-ipam", "gwbridge": "gwbridge"}
# Plugins that open CNI_NETNS (an IPAM plugin never does).
USES_NETNS = ("overlay", "gwbridge")


def base_conf(plugin, version="1.0.0"):
    """A valid configuration for each plugin (the runner proves it with ADD/DEL after the battery)."""
    if plugin == "overlay":
        return {"cniVersion": version, "name": "badnet", "type": "overlay", "vni": 4242,
                "ipam": {"type": "overlay-ipam", "subnet": "10.77.0.0/24", "store": "consul"}}
    if plugin == "ipam-file":
        return {"cniVersion": version, "name": "badipf", "type": "bridge",
                "ipam": {"type": "overlay-ipam", "subnet": "10.78.0.0/24", "store": "file",
                         "dataDir": "{tmp}/data-ipf"}}
    if plugin == "ipam-consul":
        return {"cniVersion": version, "name": "badipc", "type": "bridge",
                "ipam": {"type": "overlay-ipam", "store": "consul",
                         "ranges": [[{"subnet": "10.79.0.0/25"}, {"subnet": "10.79.0.128/25"}]],
                         "routes": [{"dst": "0.0.0.0/0"}]}}
    if plugin == "gwbridge":
        return {"cniVersion": version, "name": "badgw", "type": "gwbridge", "bridge": "badgw0",
                "ipam": {"type": "overlay-ipam", "subnet": "10.80.0.0/24", "store": "file",
                         "dataDir": "{tmp}/data-gw"}}
    raise KeyError(plugin)


@dataclass
class Case:
    plugin: str
    category: str
    name: str
    code: int
    culprit: str                       # must appear in the error's msg
    verb: str = "ADD"
    patch: Optional[Callable] = None   # patch(conf_dict) -> None or a replacement (dict or str)
    stdin: Optional[bytes] = None      # raw stdin instead of the (patched) config
    env: dict = field(default_factory=dict)  # CNI_* overrides; None unsets
    netns: Optional[str] = None        # CNI_NETNS override (placeholders above)
    version: str = "1.0.0"

    @property
    def id(self):
        return f"{self.plugin}/{self.category}/{self.name}"


def setp(path, value):
    """A patch setting a dotted path ("ipam.subnet"); lists by integer parts ("ipam.ranges.0.0.subnet")."""
    parts = path.split(".")

    def fn(c):
        obj = c
        for p in parts[:-1]:
            obj = obj[int(p)] if isinstance(obj, list) else obj.setdefault(p, {})
        if isinstance(obj, list):
            obj[int(parts[-1])] = value
        else:
            obj[parts[-1]] = value
    return fn


def delp(path):
    parts = path.split(".")

    def fn(c):
        obj = c
        for p in parts[:-1]:
            obj = obj[p]
        del obj[parts[-1]]
    return fn


def many(*fns):
    def fn(c):
        for f in fns:
            f(c)
    return fn


def replace(value):
    return lambda c: value


def _prev(ips=None, interfaces=None, routes=None, version=None):
    r = {"cniVersion": version or "1.0.0",
         "interfaces": interfaces if interfaces is not None else [{"name": "eth0", "mac": "02:00:00:00:00:01",
                                                                   "sandbox": "/run/netns/x"}],
         "ips": ips if ips is not None else [{"address": "10.77.0.9/24", "gateway": "10.77.0.1", "interface": 0}]}
    if routes is not None:
        r["routes"] = routes
    return r


# ---------------------------------------------------------------------------------------------------
def common_cases(p):
    """Environment, stdin, version and common-key cases that every plugin must reject the same way."""
    C = []
    add = C.append
    # env: the variables the skeleton requires
    add(Case(p, "env", "no CNI_COMMAND", ENV, "CNI_COMMAND", env={"CNI_COMMAND": None}))
    add(Case(p, "env", "empty CNI_COMMAND", ENV, "CNI_COMMAND", env={"CNI_COMMAND": ""}))
    add(Case(p, "env", "unknown verb", ENV, "'ATTACH'", env={"CNI_COMMAND": "ATTACH"}))
    add(Case(p, "env", "lower-case verb", ENV, "'add'", env={"CNI_COMMAND": "add"}))
    add(Case(p, "env", "no CNI_CONTAINERID", ENV, "CNI_CONTAINERID", env={"CNI_CONTAINERID": None}))
    add(Case(p, "env", "empty CNI_CONTAINERID", ENV, "CNI_CONTAINERID", env={"CNI_CONTAINERID": ""}))
    add(Case(p, "env", "DEL without CNI_CONTAINERID", ENV, "CNI_CONTAINERID", verb="DEL",
             env={"CNI_CONTAINERID": None}))
    add(Case(p, "env", "container id with /", ENV, "CNI_CONTAINERID", env={"CNI_CONTAINERID": "abc/def"}))
    add(Case(p, "env", "container id with space", ENV, "CNI_CONTAINERID", env={"CNI_CONTAINERID": "abc def"}))
    add(Case(p, "env", "container id starting with -", ENV, "CNI_CONTAINERID", env={"CNI_CONTAINERID": "-abc"}))
    add(Case(p, "env", "container id with ;", ENV, "CNI_CONTAINERID", env={"CNI_CONTAINERID": "a;rm -rf"}))
    add(Case(p, "env", "container id non-ASCII", ENV, "CNI_CONTAINERID", env={"CNI_CONTAINERID": "caf\u00e9"}))
    add(Case(p, "env", "no CNI_IFNAME", ENV, "CNI_IFNAME", env={"CNI_IFNAME": None}))
    add(Case(p, "env", "empty CNI_IFNAME", ENV, "CNI_IFNAME", env={"CNI_IFNAME": ""}))
    add(Case(p, "env", "ifname 16 chars", ENV, "longer than 15", env={"CNI_IFNAME": "e" * 16}))
    add(Case(p, "env", "ifname with /", ENV, "'eth/0'", env={"CNI_IFNAME": "eth/0"}))
    add(Case(p, "env", "ifname with :", ENV, "'eth0:1'", env={"CNI_IFNAME": "eth0:1"}))
    add(Case(p, "env", "ifname with space", ENV, "'eth 0'", env={"CNI_IFNAME": "eth 0"}))
    add(Case(p, "env", "ifname ..", ENV, "'..'", env={"CNI_IFNAME": ".."}))
    add(Case(p, "env", "DEL ifname with /", ENV, "'a/b'", verb="DEL", env={"CNI_IFNAME": "a/b"}))
    add(Case(p, "env", "no CNI_NETNS on ADD", ENV, "CNI_NETNS", env={"CNI_NETNS": None}))
    add(Case(p, "env", "empty CNI_NETNS on CHECK", ENV, "CNI_NETNS", verb="CHECK", env={"CNI_NETNS": ""}))
    add(Case(p, "env", "CNI_ARGS unknown key", ENV, "'FOO'", env={"CNI_ARGS": "FOO=bar"}))
    add(Case(p, "env", "CNI_ARGS not K=V", ENV, "'justaword'", env={"CNI_ARGS": "K8S_POD_NAME=a;justaword"}))
    add(Case(p, "env", "CNI_ARGS empty key", ENV, "'=v'", env={"CNI_ARGS": "=v"}))
    add(Case(p, "env", "CNI_ARGS key twice", ENV, "'K8S_POD_NAME'",
             env={"CNI_ARGS": "K8S_POD_NAME=a;K8S_POD_NAME=b"}))
    add(Case(p, "env", "CNI_ARGS IgnoreUnknown=0", ENV, "'X'", env={"CNI_ARGS": "IgnoreUnknown=0;X=1"}))
    # stdin
    add(Case(p, "stdin", "empty stdin", DECODE, "not valid JSON", stdin=b""))
    add(Case(p, "stdin", "truncated JSON", DECODE, "not valid JSON", stdin=b'{"cniVersion":"1.0.0","name":'))
    add(Case(p, "stdin", "trailing garbage", DECODE, "not valid JSON",
             stdin=b'{"cniVersion":"1.0.0","name":"n"} x'))
    add(Case(p, "stdin", "JSON array", DECODE, "must be a JSON object", stdin=b"[]"))
    add(Case(p, "stdin", "JSON string", DECODE, "must be a JSON object", stdin=b'"hello"'))
    add(Case(p, "stdin", "NUL byte", DECODE, "NUL byte at offset 14", stdin=b'{"cniVersion":\x00"1.0.0"}'))
    add(Case(p, "stdin", "oversized 2 MiB", DECODE, "larger than the limit",
             stdin=b'{"cniVersion":"1.0.0","name":"n","x":"' + b"a" * (2 << 20) + b'"}'))
    add(Case(p, "stdin", "invalid UTF-8", DECODE, "Invalid encoding",
             stdin=b'{"cniVersion":"1.0.0","name":"n\xff\xfe"}'))
    # About 360 KB, under the size limit: refused by depth before any recursive parser sees it (issue 14).
    add(Case(p, "stdin", "nested 180000 levels deep", DECODE, "nested more than 64 levels",
             stdin=b'{"cniVersion":"1.0.0","name":"n","x":' + b"[" * 180000 + b"]" * 180000 + b"}"))
    # versions
    add(Case(p, "version", "missing cniVersion", VERSION, "0.1.0", patch=delp("cniVersion")))
    add(Case(p, "version", "cniVersion 0.2.0", VERSION, "0.2.0", patch=setp("cniVersion", "0.2.0")))
    add(Case(p, "version", "cniVersion 2.0.0", VERSION, "2.0.0", patch=setp("cniVersion", "2.0.0")))
    add(Case(p, "version", "cniVersion garbage", VERSION, "banana", patch=setp("cniVersion", "banana")))
    add(Case(p, "version", "cniVersion number", CONFIG, "cniVersion", patch=setp("cniVersion", 1.0)))
    add(Case(p, "version", "CHECK on 0.3.1", VERSION, "CHECK", verb="CHECK", version="0.3.1",
             patch=setp("prevResult", _prev(version="0.3.1"))))
    add(Case(p, "version", "GC on 1.0.0", VERSION, "GC", verb="GC"))
    add(Case(p, "version", "STATUS on 0.4.0", VERSION, "STATUS", verb="STATUS", version="0.4.0"))
    # common keys
    add(Case(p, "keys", "no name", CONFIG, "'name'", patch=delp("name")))
    add(Case(p, "keys", "empty name", CONFIG, "'name'", patch=setp("name", "")))
    add(Case(p, "keys", "name with /", CONFIG, "'../etc'", patch=setp("name", "../etc")))
    add(Case(p, "keys", "name is a number", CONFIG, "'name'", patch=setp("name", 7)))
    add(Case(p, "keys", "ipam is a string", CONFIG, "'ipam'", patch=setp("ipam", "overlay-ipam")))
    add(Case(p, "keys", "ipam.type is a path", CONFIG, "'ipam.type'", patch=setp("ipam.type", "../../bin/sh")))
    add(Case(p, "keys", "ipam.type is a number", CONFIG, "'ipam.type'", patch=setp("ipam.type", 3)))
    add(Case(p, "keys", "runtimeConfig is a list", CONFIG, "'runtimeConfig'", patch=setp("runtimeConfig", [])))
    add(Case(p, "keys", "args is a string", CONFIG, "'args'", patch=setp("args", "x")))
    add(Case(p, "keys", "capabilities is true", CONFIG, "'capabilities'", patch=setp("capabilities", True)))
    add(Case(p, "keys", "dns is a list", CONFIG, "'dns'", patch=setp("dns", ["8.8.8.8"])))
    add(Case(p, "keys", "dns.nameservers is a string", CONFIG, "'dns.nameservers'",
             patch=setp("dns", {"nameservers": "8.8.8.8"})))
    # prevResult that lies or is malformed (parsed by the skeleton for every verb)
    add(Case(p, "prevResult", "not an object", DECODE, "'prevResult'", patch=setp("prevResult", [1])))
    add(Case(p, "prevResult", "address not a CIDR", CONFIG, "'prevResult.ips[0].address'",
             patch=setp("prevResult", _prev(ips=[{"address": "10.77.0.300/24", "interface": 0}]))))
    add(Case(p, "prevResult", "interface index out of range", CONFIG, "'prevResult.ips[0].interface'",
             patch=setp("prevResult", _prev(ips=[{"address": "10.77.0.9/24", "interface": 5}]))))
    add(Case(p, "prevResult", "gateway of another family", CONFIG, "'prevResult.ips[0].gateway'",
             patch=setp("prevResult", _prev(ips=[{"address": "10.77.0.9/24", "gateway": "fd00::1",
                                                  "interface": 0}]))))
    add(Case(p, "prevResult", "route without dst", CONFIG, "'prevResult.routes[0].dst'",
             patch=setp("prevResult", _prev(routes=[{"gw": "10.77.0.1"}]))))
    add(Case(p, "prevResult", "version 6 on an IPv4 address", CONFIG, "'prevResult.ips[0].version'",
             version="0.4.0",
             patch=setp("prevResult", _prev(version="0.4.0", ips=[{"version": "6", "address": "10.77.0.9/24"}]))))
    add(Case(p, "prevResult", "ips is an object", CONFIG, "'prevResult.ips'",
             patch=setp("prevResult", {"cniVersion": "1.0.0", "ips": {"address": "10.77.0.9/24"}})))
    return C


def netns_cases(p):
    C = []
    add = C.append
    add(Case(p, "netns", "path does not exist", ENV, "@missing", netns="@missing"))
    add(Case(p, "netns", "regular file", ENV, "is not a network namespace", netns="@file"))
    add(Case(p, "netns", "directory", ENV, "is not a network namespace", netns="@dir"))
    add(Case(p, "netns", "a pid namespace", ENV, "is not a network namespace", netns="@pidns"))
    add(Case(p, "netns", "the host's own netns by name", ENV, "own network namespace", netns="@host"))
    add(Case(p, "netns", "the host's own netns via /proc/self", ENV, "own network namespace", netns="@self"))
    add(Case(p, "netns", "relative path", ENV, "CNI_NETNS", netns="run/netns/x"))
    return C


def overlay_cases():
    p = "overlay"
    C = []
    add = C.append
    add(Case(p, "overlay", "vni 0", CONFIG, "'vni'", patch=setp("vni", 0)))
    add(Case(p, "overlay", "vni 2^24", CONFIG, "'vni'", patch=setp("vni", 16777216)))
    add(Case(p, "overlay", "vni negative", CONFIG, "'vni'", patch=setp("vni", -1)))
    add(Case(p, "overlay", "vni string", CONFIG, "'vni'", patch=setp("vni", "42")))
    add(Case(p, "overlay", "vni float", CONFIG, "'vni'", patch=setp("vni", 42.5)))
    add(Case(p, "overlay", "port 0", CONFIG, "'port'", patch=setp("port", 0)))
    add(Case(p, "overlay", "port 65536", CONFIG, "'port'", patch=setp("port", 65536)))
    add(Case(p, "overlay", "mtu 100", CONFIG, "'mtu'", patch=setp("mtu", 100)))
    add(Case(p, "overlay", "mtu string", CONFIG, "'mtu'", patch=setp("mtu", "1400")))
    add(Case(p, "overlay", "advertise bad name", CONFIG, "'advertise'", patch=setp("advertise", "eth0/x")))
    add(Case(p, "overlay", "advertise number", CONFIG, "'advertise'", patch=setp("advertise", 5)))
    add(Case(p, "overlay", "store bad URL", CONFIG, "'store'", patch=setp("store", "consul://:::")))
    add(Case(p, "overlay", "store bad port", CONFIG, "store", patch=setp("store", "consul://198.51.100.10:99999")))
    add(Case(p, "overlay", "store is a number", CONFIG, "'store'", patch=setp("store", 8500)))
    add(Case(p, "overlay", "consul is a string", CONFIG, "'consul'", patch=setp("consul", "x")))
    # A store the node does not name is refused (issue 16); unreachable node stores give 11 (test_faults).
    add(Case(p, "overlay", "store not of this node", CONFIG, "127.0.0.1:1", patch=setp("store", "consul://127.0.0.1:1")))
    add(Case(p, "overlay", "tokenFile in a network config", CONFIG, "'consul.tokenFile'",
             patch=setp("consul", {"tokenFile": "/etc/shadow"})))
    add(Case(p, "overlay", "no ipam", CONFIG, "field 'ipam' has no address ranges", patch=delp("ipam")))
    add(Case(p, "overlay", "ipam without type", CONFIG, "'ipam.type'", patch=delp("ipam.type")))
    add(Case(p, "overlay", "runtimeConfig.mac malformed", CONFIG, "runtimeConfig.mac",
             patch=setp("runtimeConfig", {"mac": "02:00:00:00:00"})))
    add(Case(p, "overlay", "runtimeConfig.mac multicast", CONFIG, "'01:00:5e:00:00:01'",
             patch=setp("runtimeConfig", {"mac": "01:00:5e:00:00:01"})))
    add(Case(p, "overlay", "runtimeConfig.mac zero", CONFIG, "'00:00:00:00:00:00'",
             patch=setp("runtimeConfig", {"mac": "00:00:00:00:00:00"})))
    add(Case(p, "overlay", "runtimeConfig.mac number", CONFIG, "runtimeConfig.mac",
             patch=setp("runtimeConfig", {"mac": 5})))
    add(Case(p, "overlay", "CNI_ARGS MAC bad", CONFIG, "CNI_ARGS MAC", env={"CNI_ARGS": "MAC=zz:zz:zz:zz:zz:zz"}))
    add(Case(p, "overlay", "CNI_ARGS MAC broadcast", CONFIG, "CNI_ARGS MAC",
             env={"CNI_ARGS": "MAC=ff:ff:ff:ff:ff:ff"}))
    # names for the resolver (issue 10)
    add(Case(p, "overlay", "CNI_ARGS K8S_POD_NAME with a slash", CONFIG, "'web/1'",
             env={"CNI_ARGS": "K8S_POD_NAME=web/1"}))
    add(Case(p, "overlay", "CNI_ARGS K8S_POD_NAME label too long", CONFIG, "K8S_POD_NAME",
             env={"CNI_ARGS": "K8S_POD_NAME=" + "a" * 64}))
    add(Case(p, "overlay", "runtimeConfig.aliases not an object", CONFIG, "runtimeConfig.aliases",
             patch=setp("runtimeConfig", {"aliases": ["www"]})))
    add(Case(p, "overlay", "runtimeConfig.aliases entry not a list", CONFIG, "runtimeConfig.aliases",
             patch=lambda c: {**c, "runtimeConfig": {"aliases": {c["name"]: "www"}}}))
    add(Case(p, "overlay", "runtimeConfig.aliases invalid name", CONFIG, "'-www'",
             patch=lambda c: {**c, "runtimeConfig": {"aliases": {c["name"]: ["ok", "-www"]}}}))
    add(Case(p, "overlay", "runtimeConfig.aliases empty name", CONFIG, "runtimeConfig.aliases",
             patch=lambda c: {**c, "runtimeConfig": {"aliases": {c["name"]: [""]}}}))
    add(Case(p, "overlay", "resolver not a boolean", CONFIG, "'resolver'", patch=setp("resolver", "off")))
    # delegated to overlay-ipam: static addresses and IPAM config errors must come back unchanged
    add(Case(p, "overlay-ipam", "CNI_ARGS IP outside the range", CONFIG, "outside every configured range",
             env={"CNI_ARGS": "IP=10.99.0.5"}))
    add(Case(p, "overlay-ipam", "CNI_ARGS IP is the gateway", CONFIG, "gateway", env={"CNI_ARGS": "IP=10.77.0.1"}))
    add(Case(p, "overlay-ipam", "CNI_ARGS IP not an address", ENV, "CNI_ARGS IP", env={"CNI_ARGS": "IP=10.77.0"}))
    add(Case(p, "overlay-ipam", "ipam.subnet invalid", CONFIG, "'ipam.subnet'", patch=setp("ipam.subnet", "10.77.0.0/33")))
    add(Case(p, "overlay-ipam", "ipam plugin missing from CNI_PATH", CONFIG, "nosuch-ipam",
             patch=setp("ipam.type", "nosuch-ipam")))
    add(Case(p, "overlay", "CHECK without prevResult", CONFIG, "prevResult", verb="CHECK"))
    add(Case(p, "overlay", "CHECK prevResult without our ifname", CONFIG, "'eth0'", verb="CHECK",
             patch=setp("prevResult", _prev(interfaces=[{"name": "other0"}],
                                            ips=[{"address": "10.77.0.9/24"}]))))
    add(Case(p, "overlay", "CHECK prevResult claims a missing attachment", 3, CID, verb="CHECK",
             netns="@container",
             patch=setp("prevResult", _prev(interfaces=[{"name": "eth0", "sandbox": "@container"}]))))
    add(Case(p, "overlay", "node config missing", CONFIG, "does not exist",
             env={"OVL_NODE_CONFIG": "{tmp}/no-such-node.json"}))
    add(Case(p, "overlay", "node config not JSON", DECODE, "node config", env={"OVL_NODE_CONFIG": "{tmp}/node-bad.json"}))
    return C


def ipam_cases(p):
    C = []
    add = C.append
    sub = "10.78.0" if p == "ipam-file" else "10.79.0"
    legacy = p == "ipam-file"
    # ranges
    if legacy:
        add(Case(p, "ranges", "subnet not a CIDR", CONFIG, "'ipam.subnet'", patch=setp("ipam.subnet", "banana")))
        add(Case(p, "ranges", "subnet /33", CONFIG, "'ipam.subnet'", patch=setp("ipam.subnet", "10.78.0.0/33")))
        add(Case(p, "ranges", "subnet with host bits", CONFIG, "host bits", patch=setp("ipam.subnet", "10.78.0.5/24")))
        add(Case(p, "ranges", "subnet /31 too small", CONFIG, "too small", patch=setp("ipam.subnet", "10.78.0.0/31")))
        add(Case(p, "ranges", "subnet a number", CONFIG, "'ipam.subnet'", patch=setp("ipam.subnet", 24)))
        add(Case(p, "ranges", "rangeStart outside", CONFIG, "'ipam.rangeStart'",
                 patch=setp("ipam.rangeStart", "10.78.1.5")))
        add(Case(p, "ranges", "rangeEnd is broadcast", CONFIG, "'ipam.rangeEnd'",
                 patch=setp("ipam.rangeEnd", "10.78.0.255")))
        add(Case(p, "ranges", "rangeStart after rangeEnd", CONFIG, "is after rangeEnd",
                 patch=many(setp("ipam.rangeStart", "10.78.0.200"), setp("ipam.rangeEnd", "10.78.0.100"))))
        add(Case(p, "ranges", "rangeStart IPv6 in IPv4 subnet", CONFIG, "'ipam.rangeStart'",
                 patch=setp("ipam.rangeStart", "fd00::5")))
        add(Case(p, "ranges", "gateway outside", CONFIG, "'ipam.gateway'", patch=setp("ipam.gateway", "10.1.1.1")))
        add(Case(p, "ranges", "gateway not an IP", CONFIG, "'ipam.gateway'", patch=setp("ipam.gateway", "10.78.0.1/24")))
        add(Case(p, "ranges", "rangeStart without subnet", CONFIG, "'ipam.rangeStart'",
                 patch=many(delp("ipam.subnet"), setp("ipam.rangeStart", "10.78.0.5"))))
        add(Case(p, "ranges", "no subnet and no ranges", CONFIG, "'ipam.ranges'", patch=delp("ipam.subnet")))
        add(Case(p, "store", "dataDir empty", CONFIG, "'ipam.dataDir'", patch=setp("ipam.dataDir", "")))
        add(Case(p, "store", "dataDir a number", CONFIG, "'ipam.dataDir'", patch=setp("ipam.dataDir", 1)))
        add(Case(p, "store", "dataDir under a file", INTERNAL if False else 5, "ipam.dataDir",
                 patch=setp("ipam.dataDir", "{tmp}/node-bad.json/sub")))
    else:
        add(Case(p, "ranges", "ranges not a list", CONFIG, "'ipam.ranges'", patch=setp("ipam.ranges", {})))
        add(Case(p, "ranges", "range set not a list", CONFIG, "'ipam.ranges[0]'", patch=setp("ipam.ranges", [{}])))
        add(Case(p, "ranges", "empty range set", CONFIG, "'ipam.ranges[0]'", patch=setp("ipam.ranges", [[]])))
        add(Case(p, "ranges", "range without subnet", CONFIG, "'ipam.ranges[0][0].subnet'",
                 patch=setp("ipam.ranges", [[{"gateway": "10.79.0.1"}]])))
        add(Case(p, "ranges", "second range invalid CIDR", CONFIG, "'ipam.ranges[0][1].subnet'",
                 patch=setp("ipam.ranges.0.1", {"subnet": "10.79.0.128/24/1"})))
        add(Case(p, "ranges", "overlapping ranges in a set", CONFIG, "'ipam.ranges[0][1]'",
                 patch=setp("ipam.ranges.0.1", {"subnet": "10.79.0.0/24"})))
        add(Case(p, "ranges", "overlapping range sets", CONFIG, "'ipam.ranges[1][0]'",
                 patch=lambda c: c["ipam"]["ranges"].append([{"subnet": "10.79.0.64/26"}])))
        add(Case(p, "ranges", "mixed families in a set", CONFIG, "'ipam.ranges[0][1].subnet'",
                 patch=setp("ipam.ranges.0.1", {"subnet": "fd00:79::/64"})))
        add(Case(p, "ranges", "rangeEnd outside", CONFIG, "'ipam.ranges[0][0].rangeEnd'",
                 patch=setp("ipam.ranges.0.0", {"subnet": "10.79.0.0/25", "rangeEnd": "10.79.0.200"})))
        add(Case(p, "ranges", "rangeStart is the network address", CONFIG, "'ipam.ranges[0][0].rangeStart'",
                 patch=setp("ipam.ranges.0.0", {"subnet": "10.79.0.0/25", "rangeStart": "10.79.0.0"})))
        add(Case(p, "ranges", "IPv6 range gateway IPv4", CONFIG, "'ipam.ranges[1][0].gateway'",
                 patch=lambda c: c["ipam"]["ranges"].append([{"subnet": "fd00:79::/64", "gateway": "10.79.0.1"}])))
        add(Case(p, "routes", "routes not a list", CONFIG, "'ipam.routes'", patch=setp("ipam.routes", {})))
        add(Case(p, "routes", "route dst missing", CONFIG, "'ipam.routes[0].dst'",
                 patch=setp("ipam.routes", [{"gw": "10.79.0.1"}])))
        add(Case(p, "routes", "route dst not a CIDR", CONFIG, "'ipam.routes[0].dst'",
                 patch=setp("ipam.routes", [{"dst": "default"}])))
        add(Case(p, "routes", "route gw of another family", CONFIG, "'ipam.routes[0].gw'",
                 patch=setp("ipam.routes", [{"dst": "0.0.0.0/0", "gw": "fd00::1"}])))
        add(Case(p, "store", "store not of this node", CONFIG, "127.0.0.1:1",
                 patch=setp("ipam.store", "consul://127.0.0.1:1")))
        add(Case(p, "store", "keyFile in a network config", CONFIG, "'ipam.consul.keyFile'",
                 patch=setp("ipam.consul", {"keyFile": "/etc/shadow"})))
        add(Case(p, "store", "store bad scheme", CONFIG, "'ipam.store'", patch=setp("ipam.store", "etcd://x:1")))
        add(Case(p, "store", "consul.retries a string", CONFIG, "retries",
                 patch=setp("ipam.consul", {"retries": "2"})))
        add(Case(p, "store", "consul.addresses a number", CONFIG, "addresses",
                 patch=setp("ipam.consul", {"addresses": 1})))
        add(Case(p, "store", "CHECK with a store not of this node", CONFIG, "127.0.0.1:1", verb="CHECK",
                 patch=many(setp("ipam.store", "consul://127.0.0.1:1"),
                            setp("prevResult", _prev(ips=[{"address": "10.79.0.9/25"}])))))
    add(Case(p, "store", "pool with /", CONFIG, "'ipam.pool'", patch=setp("ipam.pool", "a/b")))
    add(Case(p, "store", "pool a list", CONFIG, "'ipam.pool'", patch=setp("ipam.pool", ["a"])))
    add(Case(p, "store", "ipam missing", CONFIG, "'ipam'", patch=delp("ipam")))
    # static addresses from the three sources
    add(Case(p, "static", "CNI_ARGS IP outside ranges", CONFIG, "outside every configured range",
             env={"CNI_ARGS": "IP=10.99.0.5"}))
    add(Case(p, "static", "CNI_ARGS IP is the gateway", CONFIG, "gateway", env={"CNI_ARGS": f"IP={sub}.1"}))
    add(Case(p, "static", "CNI_ARGS IP not an address", ENV, "CNI_ARGS IP", env={"CNI_ARGS": "IP=10.78.0.300"}))
    add(Case(p, "static", "CNI_ARGS two IPv4 for one set", CONFIG, "requested addresses",
             env={"CNI_ARGS": f"IP={sub}.5,{sub}.6"}))
    add(Case(p, "static", "args.cni.ips outside", CONFIG, "outside every configured range",
             patch=setp("args", {"cni": {"ips": ["192.168.5.5"]}})))
    add(Case(p, "static", "args.cni.ips not a list", CONFIG, "'args.cni.ips'",
             patch=setp("args", {"cni": {"ips": "10.78.0.5"}})))
    add(Case(p, "static", "args.cni.ips number entry", CONFIG, "'args.cni.ips[0]'",
             patch=setp("args", {"cni": {"ips": [5]}})))
    add(Case(p, "static", "runtimeConfig.ips outside", CONFIG, "outside every configured range",
             patch=setp("runtimeConfig", {"ips": ["fd00::5/64"]})))
    add(Case(p, "static", "runtimeConfig.ips garbage", CONFIG, "'runtimeConfig.ips[0]'",
             patch=setp("runtimeConfig", {"ips": ["not-an-ip"]})))
    add(Case(p, "static", "static is the network address", CONFIG, "outside every configured range",
             env={"CNI_ARGS": f"IP={sub}.0"}))
    return C


def gwbridge_cases():
    p = "gwbridge"
    C = []
    add = C.append
    add(Case(p, "gwbridge", "bridge 16 chars", CONFIG, "'bridge'", patch=setp("bridge", "b" * 16)))
    add(Case(p, "gwbridge", "bridge with /", CONFIG, "'bridge'", patch=setp("bridge", "br/0")))
    add(Case(p, "gwbridge", "bridge with quote", CONFIG, "'bridge'", patch=setp("bridge", 'br"0')))
    add(Case(p, "gwbridge", "bridge empty", CONFIG, "'bridge'", patch=setp("bridge", "")))
    add(Case(p, "gwbridge", "bridge a number", CONFIG, "'bridge'", patch=setp("bridge", 0)))
    add(Case(p, "gwbridge", "ifName with space", CONFIG, "'ifName'", patch=setp("ifName", "eth 1")))
    add(Case(p, "gwbridge", "mtu 10", CONFIG, "'mtu'", patch=setp("mtu", 10)))
    add(Case(p, "gwbridge", "mtu too big", CONFIG, "'mtu'", patch=setp("mtu", 70000)))
    add(Case(p, "gwbridge", "ipMasq a string", CONFIG, "'ipMasq'", patch=setp("ipMasq", "yes")))
    add(Case(p, "gwbridge", "icc a number", CONFIG, "'icc'", patch=setp("icc", 1)))
    add(Case(p, "gwbridge", "hairpin a string", CONFIG, "'hairpin'", patch=setp("hairpin", "on")))
    add(Case(p, "gwbridge", "defaultRoute a list", CONFIG, "'defaultRoute'", patch=setp("defaultRoute", [])))
    add(Case(p, "gwbridge", "ipam without type", CONFIG, "'ipam.type'", patch=delp("ipam.type")))
    pm = "runtimeConfig.portMappings"
    add(Case(p, "ports", "portMappings an object", CONFIG, f"'{pm}'",
             patch=setp("runtimeConfig", {"portMappings": {}})))
    add(Case(p, "ports", "mapping a string", CONFIG, f"'{pm}[0]'",
             patch=setp("runtimeConfig", {"portMappings": ["8080:80"]})))
    add(Case(p, "ports", "hostPort 0", CONFIG, "hostPort",
             patch=setp("runtimeConfig", {"portMappings": [{"hostPort": 0, "containerPort": 80, "protocol": "tcp"}]})))
    add(Case(p, "ports", "hostPort 70000", CONFIG, "hostPort",
             patch=setp("runtimeConfig", {"portMappings": [{"hostPort": 70000, "containerPort": 80}]})))
    add(Case(p, "ports", "containerPort missing", CONFIG, "containerPort",
             patch=setp("runtimeConfig", {"portMappings": [{"hostPort": 8080}]})))
    add(Case(p, "ports", "protocol sctpx", CONFIG, "protocol",
             patch=setp("runtimeConfig", {"portMappings": [{"hostPort": 8080, "containerPort": 80,
                                                            "protocol": "sctpx"}]})))
    add(Case(p, "ports", "hostIP garbage", CONFIG, "hostIP",
             patch=setp("runtimeConfig", {"portMappings": [{"hostPort": 8080, "containerPort": 80,
                                                            "hostIP": "1.2.3"}]})))
    add(Case(p, "ports", "duplicate host port", CONFIG, "host port",
             patch=setp("runtimeConfig", {"portMappings": [{"hostPort": 8080, "containerPort": 80},
                                                           {"hostPort": 8080, "containerPort": 81}]})))
    add(Case(p, "gwbridge-ipam", "CNI_ARGS IP outside the subnet", CONFIG, "outside every configured range",
             env={"CNI_ARGS": "IP=10.99.0.5"}))
    add(Case(p, "gwbridge-ipam", "ipam.subnet host bits", CONFIG, "host bits", patch=setp("ipam.subnet", "10.80.0.9/24")))
    add(Case(p, "gwbridge", "CHECK without prevResult", CONFIG, "prevResult", verb="CHECK"))
    add(Case(p, "gwbridge", "CHECK prevResult claims a missing attachment", 3, CID, verb="CHECK",
             netns="@container",
             patch=setp("prevResult", _prev(interfaces=[{"name": "eth0", "sandbox": "@container"}],
                                            ips=[{"address": "10.80.0.9/24", "gateway": "10.80.0.1",
                                                  "interface": 0}]))))
    return C


def all_cases():
    cases = []
    for p in PLUGINS:
        cases += common_cases(p)
        if p in USES_NETNS:
            cases += netns_cases(p)
    cases += overlay_cases()
    cases += ipam_cases("ipam-file")
    cases += ipam_cases("ipam-consul")
    cases += gwbridge_cases()
    return cases


def render(case, tmp, container):
    """The stdin bytes for a case."""
    if case.stdin is not None:
        return case.stdin
    conf = base_conf(case.plugin, case.version)
    if case.patch:
        r = case.patch(conf)
        if r is not None:
            conf = r
    text = conf if isinstance(conf, str) else __import__("json").dumps(conf)
    return text.replace("{tmp}", tmp).replace("@container", container).encode()


def copy_case(c, **kw):
    d = copy.copy(c)
    for k, v in kw.items():
        setattr(d, k, v)
    return d
