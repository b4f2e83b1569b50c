// The conflist `overlayctl network create` prints: it refers to the network by name only, and every host
// reads the definition from the store (the overlay plugin's withStoredDefinitions).
#pragma once

#include <string>
#include <string_view>

namespace ovl::ctl {

std::string nameOnlyConflist(const std::string& net, std::string_view cniVersion = "1.0.0");

}  // namespace ovl::ctl
