// Common nft matches as expression lists, written as nft(8) writes them (`nft --debug=netlink`), so that
// `nft list ruleset` prints them back in its usual syntax.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "nfnl/expr.hpp"
#include "util/ip.hpp"

namespace ovl::nfnl::match {

using Exprs = std::vector<Expr>;  // joined with operator+ (nfnl/expr.hpp)

Exprs nfproto(bool v6);                                          // meta nfproto ipv4|ipv6
Exprs ifname(bool out, std::string_view name, bool equal);       // iifname|oifname ==|!= "name"
// ip|ip6 saddr|daddr within the network (no nfproto dependency: the caller adds it once); nothing for /0.
Exprs prefix(const IpNet& net, bool daddr);
Exprs notAddr(const IpAddr& a, bool daddr);                      // ip|ip6 saddr|daddr != a
Exprs fibDaddrLocal();                                           // fib daddr type local
Exprs ctBits(uint32_t key, uint32_t bits);                       // ct state|status & bits != 0
Exprs group(bool out, uint32_t g);                               // meta iifgroup|oifgroup g
// [meta nfproto ipv4|ipv6] <first> dnat ip|ip6 to [ip|ip6 daddr .] meta l4proto . th dport map @map (the
// map's value: address . port).
Exprs dnatViaMap(bool v6, bool byDaddr, std::string_view map, const Exprs& first = {});

}  // namespace ovl::nfnl::match
