// What `overlay watch` serves on the node config's metrics.listen: the plugins' calls from the host's
// metrics file, and per local network its members (Consul), flood/FDB/neighbour entries (netlink) and IPAM
// pool size and use (Consul), the host's nftables rules per table and elements per set, the health mesh's
// figures per peer, what the watcher did with ARP reports, and overlay-resolver's counters from its file.
// Built on the server's thread at each scrape with its own netlink socket and Consul client; a source that
// fails is left out of the answer.
#pragma once

#include <memory>
#include <string>

#include "kv/node_config.hpp"
#include "metrics/http_server.hpp"
#include "overlay/health_figures.hpp"
#include "overlay/miss_figures.hpp"
#include "util/error.hpp"

namespace ovl::overlay {

// Starts the endpoint when the node config asks for one (nullptr otherwise).
Result<std::unique_ptr<metrics::HttpServer>> startMetrics(const kv::NodeConfig& node, const kv::StoreSpec& store,
                                                          const std::string& stateDir,
                                                          std::shared_ptr<const HealthFigures> health,
                                                          std::shared_ptr<const MissFigures> misses = nullptr,
                                                          std::shared_ptr<const std::atomic<uint64_t>> feedBehind = nullptr);

}  // namespace ovl::overlay
