// Sending requests and reading dumps on a Socket.
#pragma once

#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "nl/handles.hpp"
#include "nl/socket.hpp"

namespace ovl::nl {

// Sends msg and waits for the kernel's acknowledgement. Returns 0 or a negative NLE_* code.
int sendSync(Socket& s, MsgPtr msg);

// Sends a dump request (msgType with the fixed header hdr) and calls onMsg for every answer. When the
// kernel reports the dump was interrupted by a concurrent change, calls reset and starts over, up to five
// times. what names the dump in errors.
Result<void> dumpRaw(Socket& s, int msgType, const void* hdr, size_t hdrLen, std::string_view what,
                     const std::function<void()>& reset, const std::function<void(nl_msg*)>& onMsg);

// Sends a request (msg: header and attributes, e.g. an RTM_GETLINK for one link) and calls onMsg for each
// message of the answer (one, for a get).
Result<void> requestRaw(Socket& s, MsgPtr msg, std::string_view what, const std::function<void(nl_msg*)>& onMsg);

// dumpRaw for a request with attributes (kernel-side filters): build() makes the whole message (type,
// NLM_F_DUMP, header, attributes), afresh for each attempt; nullptr: out of memory.
Result<void> dumpBuilt(Socket& s, const std::function<MsgPtr()>& build, std::string_view what,
                       const std::function<void()>& reset, const std::function<void(nl_msg*)>& onMsg);

// dumpRaw collecting parse(msg) results that are not nullopt.
template <class T, class Hdr, class Parse>
Result<std::vector<T>> dumpAll(Socket& s, int msgType, const Hdr& hdr, std::string_view what, Parse parse) {
  std::vector<T> out;
  TRY_VOID(dumpRaw(
      s, msgType, &hdr, sizeof hdr, what, [&] { out.clear(); },
      [&](nl_msg* m) {
        std::optional<T> v = parse(m);
        if (v) out.push_back(std::move(*v));
      }));
  return out;
}

// Parses a route-netlink message into a libnl object (rtnl_link, rtnl_addr, rtnl_route, rtnl_neigh) and
// passes it, borrowed, to fn. Messages libnl cannot parse are skipped.
void parseObject(nl_msg* m, const std::function<void(nl_object*)>& fn);

}  // namespace ovl::nl
