// One chain's existence and comment, asked of the kernel with a single nfnetlink request (NFT_MSG_GETCHAIN),
// without libnftables: no context, no cache, no parser. Measured on the test kernel: about 0.1 ms when the
// chain exists and a few microseconds when it does not, against 0.5 ms for libnftables' "list chain" and
// 0.1 ms for a fresh libnftables context alone.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "util/error.hpp"

namespace ovl::nfnl {

// The chain's comment ("" when it has none) when the chain exists in the calling thread's netns; nullopt
// when it or its table does not. family: "inet", "ip", "ip6" or "bridge".
Result<std::optional<std::string>> findChainComment(std::string_view family, std::string_view table,
                                                    std::string_view chain);

}  // namespace ovl::nfnl
