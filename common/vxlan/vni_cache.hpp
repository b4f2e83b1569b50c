// This host's cache of network name -> VNI: <stateDir>/ns-<netns inode>/<network>.vni, written by ADD once
// the network's records are in place. DEL reads it when the store is unreachable; the watcher and its
// metrics endpoint list it to know which networks are local.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ovl::vxlan {

void rememberVni(const std::string& stateDir, const std::string& network, uint32_t vni);
std::optional<uint32_t> recallVni(const std::string& stateDir, const std::string& network);
// Every network remembered on this host with its VNI (empty when the directory does not exist yet).
std::vector<std::pair<std::string, uint32_t>> rememberedNetworks(const std::string& stateDir);

}  // namespace ovl::vxlan
