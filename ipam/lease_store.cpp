#include "ipam/lease_store.hpp"

#include <time.h>

namespace ovl::ipam {

std::string Owner::str() const {
  std::string s = "container " + containerId + " (" + ifName + ")";
  if (!host.empty()) s += " on host " + host;
  return s;
}

std::string nowRfc3339() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t{};
  gmtime_r(&ts.tv_sec, &t);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &t);
  return buf;
}

}  // namespace ovl::ipam
