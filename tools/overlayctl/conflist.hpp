// The conflist `overlayctl network create` and `network conflist` print: it refers to the network by name
// only, and every host reads the definition from the store (the overlay plugin's withStoredDefinitions).
// It works unchanged with podman (CNI backend), containerd and CRI-O: cniVersion 1.0.0 (what Debian's
// libcni 1.1.2 accepts), the capabilities those runtimes fill in (ips, mac, aliases; portMappings), and by
// default gwbridge after the overlay, as Docker gives every overlay container docker_gwbridge (NAT to
// the outside, published ports).
#pragma once

#include <string>
#include <string_view>

#include "util/error.hpp"

namespace ovl::ctl {

struct ConflistOptions {
  bool gwbridge = true;  // chain gwbridge (NAT, -p); false: the overlay alone
  std::string_view cniVersion = "1.0.0";
};

std::string nameOnlyConflist(const std::string& net, const ConflistOptions& o = {});

// Writes DIR/NET.conflist atomically (mode 0644) and says so on stderr.
Result<void> installConflist(const std::string& dir, const std::string& net, const std::string& text);

}  // namespace ovl::ctl
