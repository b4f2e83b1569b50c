// The MTU of this host's containers on a network (model/mtu.hpp: one MTU per network).
#pragma once

#include <vector>

#include "model/records.hpp"
#include "overlay/config.hpp"
#include "util/error.hpp"
#include "vxlan/datapath.hpp"

namespace ovl::overlay {

Result<unsigned> containerMtu(const OverlayConf& c, const vxlan::Underlay& u, const std::vector<model::Member>& members);

}  // namespace ovl::overlay
