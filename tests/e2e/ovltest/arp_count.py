"""Counting the ARP requests that reach a host over an overlay network's VXLAN device (what a flood would
copy there), with a bridge-family nftables table in that host's namespace."""

import json


def arp_request_counter(topology, host, vni, matches, add_cleanup):
    """One counter per nft match in `matches` (e.g. "arp daddr ip 10.0.4.2") on the ARP requests arriving at
    host from ovx-<vni>; add_cleanup(fn, *args) registers the table's removal. Returns a function giving the
    counts, in the order of `matches`."""
    table = f"ovltest_arp_{vni}"
    rules = "".join(f"    iifname \"ovx-{vni}\" arp operation request {m} counter\n" for m in matches)
    topology.run(host, "nft", "-f", "-", input=(
        f"table bridge {table} {{\n"
        f"  chain count {{\n"
        f"    type filter hook forward priority 0; policy accept;\n"
        f"{rules}"
        f"  }}\n"
        f"}}\n"))
    add_cleanup(topology.run, host, "nft", "delete", "table", "bridge", table, check=False)

    def counts():
        listed = json.loads(topology.run(host, "nft", "-j", "list", "table", "bridge", table).stdout)["nftables"]
        return [next(e["counter"]["packets"] for e in o["rule"]["expr"] if "counter" in e)
                for o in listed if "rule" in o]
    return counts
