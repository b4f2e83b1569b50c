// `overlay watch`: the optional long-running companion that keeps this host's flood lists, VXLAN allow-list
// and remote-container entries in step with Consul (one blocking query per local network, feed.hpp), and
// restores this host's
// membership records if the store lost them. Without it, a host learns about new members at its next plugin
// call. While it runs (from its first complete reconcile to its exit) VXLAN from hosts that are not members
// of the packet's VNI is dropped (vxlan/allow_list.hpp).
#pragma once

namespace ovl::overlay {

int watchMain(int argc, char** argv);

}  // namespace ovl::overlay
