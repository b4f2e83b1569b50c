// The health mesh of `overlay watch` (README "Operating it"): a thread that holds this host's address on
// the reserved health VNI, inside a network namespace of its own that only this process holds (anonymous:
// it goes with the process, whatever way it exits), and probes every other member host of this host's
// networks through the VXLAN path: UDP to the VXLAN port from the VTEP, through the allow-list and the
// underlay, as container traffic goes. The host gets no address on a tenant overlay, and containers cannot
// reach the health namespace (another VNI, another namespace).
//   ovx-hc: created in the host namespace (so its UDP socket is the host's), then moved into the health
//           namespace; static neighbour and FDB entries for each probed peer, no flooding, no learning.
// One round per second: an echo to each peer, and every kSizeEvery rounds echoes with DF at the pair's
// network MTU and at 1280 bytes. Transitions are logged once; the report is written to Consul on a change
// and every 30 s.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kv/consul_config.hpp"
#include "model/records.hpp"
#include "overlay/health_figures.hpp"
#include "util/ip.hpp"

namespace ovl::overlay {

struct HealthTarget {
  std::string host;
  IpAddr vtep;
  unsigned mtu = 0;  // the largest container MTU of the networks both hosts are members of
  bool operator==(const HealthTarget&) const = default;
};

// The other member hosts of the networks of `members` (network -> its members) that `self` is a member of,
// each once, with the MTU to probe the pair for: per network the smaller of the two hosts' MTUs (the one
// recorded when the other is not), across the networks they share the largest.
std::vector<HealthTarget> healthTargets(const std::map<std::string, std::vector<model::Member>>& members,
                                        const std::string& self);

class HealthMesh {
 public:
  struct Config {
    kv::ConsulConfig consul;
    std::string host;
    std::optional<std::string> advertise;
    uint16_t port = 4789;
    uint32_t vni = 0;
    IpNet subnet;
    std::shared_ptr<HealthFigures> figures;  // set after every round, when given (the metrics endpoint reads it)
  };
  explicit HealthMesh(Config c);
  ~HealthMesh();  // stops probing, removes the report and the allow-list pairs of the health VNI
  HealthMesh(const HealthMesh&) = delete;
  HealthMesh& operator=(const HealthMesh&) = delete;

  void setTargets(std::vector<HealthTarget> t);

 private:
  void run();
  struct State;
  Config cfg_;
  std::mutex mu_;
  std::vector<HealthTarget> targets_;
  uint64_t generation_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace ovl::overlay
