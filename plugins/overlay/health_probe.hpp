// ICMP echo over a raw socket made inside the health namespace, with DF set (no fragmentation), so an
// answered echo of N bytes proves that an N-byte packet crosses the path.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "util/error.hpp"
#include "util/ip.hpp"
#include "util/unique_fd.hpp"

namespace ovl::overlay {

struct EchoReply {
  IpAddr from;
  uint16_t seq = 0;
  std::chrono::steady_clock::time_point at;
};

class Prober {
 public:
  // The socket is created inside the namespace `netnsFd` names and stays bound to it.
  static Result<Prober> open(int netnsFd);
  // Sends an echo request making an IP packet of `size` bytes (at least 28 + 8). A packet too large for the
  // device is not an error: it is reported as not sent (false).
  Result<bool> send(const IpAddr& to, uint16_t seq, unsigned size);
  // Echo replies (of this prober's identifier) that arrive before `deadline`.
  std::vector<EchoReply> receive(std::chrono::steady_clock::time_point deadline);

 private:
  Prober(UniqueFd fd, uint16_t id) : fd_(std::move(fd)), id_(id) {}
  UniqueFd fd_;
  uint16_t id_ = 0;
};

}  // namespace ovl::overlay
