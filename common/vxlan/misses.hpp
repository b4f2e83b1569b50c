// The ARP requests no entry answered (vxlan/arp_reports.hpp), as nfnetlink_log hands them to `overlay watch`:
// the bridge port or bridge they were leaving by, the address asked for and who asked.
//
// Who can make one: any local container, by asking for any address of its network (a scan makes one per
// address, at the rate its kernel or a raw socket sends ARP). The kernel drops reports when the socket's buffer
// is full (counted in lost()); the queue keeps at most kQueued distinct ones. Only the device, the address and
// the asker's MAC are taken from a report, and nothing in one is believed: the store is read for the address.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "util/error.hpp"
#include "util/ip.hpp"
#include "util/unique_fd.hpp"

namespace ovl::vxlan {

struct Miss {
  int port = 0;    // the bridge port (the VXLAN device) the request was leaving by; 0 when not said
  int bridge = 0;  // its bridge; 0 when not said
  IpAddr ip;       // the address asked for
  MacAddr asker;   // the ARP sender's hardware address
  IpAddr askerIp;  // and its protocol address (what a request sent on in its name says)
  auto operator<=>(const Miss&) const = default;
};

// The reports in one datagram from nfnetlink_log: NFULNL_MSG_PACKET messages whose payload is an IPv4-over-
// Ethernet ARP request (at the payload's start, or after an Ethernet header). Anything else, and anything
// truncated, is skipped. Pure, for the unit tests and the fuzzer.
std::vector<Miss> parseMissReports(const void* data, size_t len);

class MissListener {
 public:
  static constexpr size_t kQueued = 4096;
  // Binds nfnetlink_log group `group` in the calling thread's network namespace (the bridges'); a group
  // another socket bound is an error naming it. Reads on a thread of its own, calling `wake` (from that
  // thread) when a report was queued.
  static Result<std::unique_ptr<MissListener>> start(uint16_t group, std::function<void()> wake);
  ~MissListener();
  MissListener(const MissListener&) = delete;
  MissListener& operator=(const MissListener&) = delete;
  // Calls `wake` from now on instead (nullptr: nothing); returns once no call of the old one runs.
  void setWake(std::function<void()> wake);
  // What was reported since the last call, each (device, address, asker) once.
  std::set<Miss> take();
  uint64_t reported() const { return reported_; }  // reports read
  uint64_t lost() const { return lost_; }          // reports the kernel or the queue dropped

 private:
  MissListener() = default;
  void run();
  UniqueFd sock_, stop_;
  std::mutex mu_;
  std::function<void()> wake_;  // called under mu_
  std::set<Miss> queue_;
  std::atomic<uint64_t> reported_{0}, lost_{0};
  std::thread thread_;
};

}  // namespace ovl::vxlan
