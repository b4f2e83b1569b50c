"""Drift tables: break one thing, see the product notice it and name it, repair, see it healthy again.

    rows = [Drift("vxlan device missing", brk=..., fix=..., code=100, culprit="ovx-4711 is missing")]
    run_drift(self, rows, probe)   # probe(row) -> (ok, code, text): what the product says about the state

Each row breaks exactly one thing (with `ip`, `bridge`, `nft` or a Consul write), the probe must report
the row's code and a message naming the culprit, and the repair must bring back a state the probe accepts;
a repair that does not take stops the table (every later row would test two breaks at once). Rows run in
a subTest each, so one failing row does not hide the others.

The kernel helpers below work on any namespace of a Topology (a Host or a container netns path) and put
back exactly what they took: a renamed link gets its name back and goes up again, a replaced VXLAN device
is recreated from the snapshot taken before (VNI, VTEP, port, MAC, MTU, bridge, flood entries).
"""

import json


class Drift:
    """One row: `brk()` breaks, `fix()` repairs; the probe must answer `code` with `culprit` in its text.
    `prev`, when given, turns the healthy prevResult into the one this row's CHECK sends (None: none)."""

    KEEP = object()

    def __init__(self, name, brk, fix, code, culprit, prev=KEEP):
        self.name, self.brk, self.fix, self.code, self.culprit, self.prev = name, brk, fix, code, culprit, prev


def run_drift(tc, rows, probe):
    """Runs the rows in order with tc.subTest; returns the names of the rows that passed."""
    ok, code, text = probe(None)
    tc.assertTrue(ok, f"not healthy before the first break: {code} {text}")
    passed = []
    for row in rows:
        healthy = False
        with tc.subTest(row.name):
            try:
                row.brk()
                ok, code, text = probe(row)
            finally:
                row.fix()
            after = probe(None)
            healthy = after[0]
            tc.assertFalse(ok, f"{row.name}: not noticed")
            tc.assertEqual(code, row.code, f"{row.name}: {text}")
            tc.assertIn(row.culprit, text, row.name)
            tc.assertTrue(healthy, f"{row.name}: still reported after the repair: {after[1]} {after[2]}")
            passed.append(row.name)
        if not healthy:
            tc.fail(f"'{row.name}' could not be broken and repaired cleanly; the rows after it were not run")
    return passed


# --- kernel helpers ----------------------------------------------------------------------------------------
def ip(t, ns, *argv):
    return t.run(ns, "ip", *argv)


def link_info(t, ns, name):
    """`ip -d -j link show NAME` as a dict, or None when there is no such link."""
    p = t.run(ns, "ip", "-d", "-j", "link", "show", "dev", name, check=False)
    return json.loads(p.stdout)[0] if p.returncode == 0 and p.stdout.strip() else None


def rename_away(t, ns, name, temp):
    """The link `name` goes down and becomes `temp`: to whoever looks for `name`, it is gone."""
    ip(t, ns, "link", "set", "dev", name, "down")
    ip(t, ns, "link", "set", "dev", name, "name", temp)


def rename_back(t, ns, temp, name):
    ip(t, ns, "link", "set", "dev", temp, "name", name)
    ip(t, ns, "link", "set", "dev", name, "up")


def restore_routes(t, netns, ifname, result):
    """Puts back the routes of a CNI result on `ifname` (a link going down or losing its address drops
    them), through the route's gw or else the gateway of the result's first address of that family."""
    for r in result.get("routes", []):
        v6 = ":" in r["dst"]
        gw = r.get("gw") or next((i["gateway"] for i in result["ips"] if i.get("gateway") and
                                  (":" in i["gateway"]) == v6), None)
        argv = ["route", "replace", "default" if r["dst"] in ("0.0.0.0/0", "::/0") else r["dst"]]
        argv += ["via", gw] if gw else []
        ip(t, netns, "-6" if v6 else "-4", *argv, "dev", ifname)


def vxlan_snapshot(t, host, name):
    """What recreate_vxlan needs to rebuild a VXLAN device exactly as it is now."""
    info = link_info(t, host, name)
    fdb = json.loads(t.run(host, "bridge", "-j", "fdb", "show", "dev", name).stdout)
    d = info["linkinfo"]["info_data"]
    return {"name": name, "id": d["id"], "local": d.get("local"), "dev": d.get("link"), "port": d["port"],
            "learning": d.get("learning", True), "address": info["address"], "mtu": info["mtu"],
            "master": info.get("master"), "up": "UP" in info["flags"],
            "flood": [(e["mac"], e["dst"]) for e in fdb if "dst" in e]}


def recreate_vxlan(t, host, snap, **override):
    """Deletes the device named in snap (if present) and creates it again from snap, with `override`
    (id, local, port, mtu, ...) applied: a fake that differs in one attribute, or the original back."""
    s = dict(snap, **override)
    if link_info(t, host, s["name"]):
        ip(t, host, "link", "del", "dev", s["name"])
    argv = ["link", "add", s["name"], "address", s["address"], "mtu", str(s["mtu"]), "type", "vxlan",
            "id", str(s["id"]), "dstport", str(s["port"]), "learning" if s["learning"] else "nolearning"]
    if s["local"]:
        argv += ["local", s["local"]]
    if s["dev"]:
        argv += ["dev", s["dev"]]
    ip(t, host, *argv)
    if s["master"]:
        ip(t, host, "link", "set", "dev", s["name"], "master", s["master"])
    if s["up"]:
        ip(t, host, "link", "set", "dev", s["name"], "up")
    for mac, dst in s["flood"]:
        t.run(host, "bridge", "fdb", "append", mac, "dev", s["name"], "dst", dst)
