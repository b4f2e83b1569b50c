// The kernel floor of an ADD and a DEL, for scripts/bench.sh's per-phase breakdown: what the kernel itself
// takes for the steps no plugin can skip, measured with the same libraries the plugins use, in the calling
// thread's network namespace (a simulated host): a veth pair with its peer moved into a container namespace,
// the pair's deletion, and one nftables transaction as an ADD with a port mapping makes it (common/nfnl: one
// element added to an existing map), and one that deletes a table (destroying an object waits for an RCU
// grace period in the kernel, a few ms).
//   ovl-kfloor N CONTAINER_NETNS_PATH   prints {"vethCreateMs": [...], "vethDeleteMs": [...], "nftCommitMs": [...],
//                                               "nftDestroyMs": [...]}
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "nfnl/batch.hpp"
#include "nl/link.hpp"
#include "nl/veth.hpp"
#include "ns/netns.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

std::string list(const std::vector<double>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%s%.3f", i ? "," : "", v[i]);
    out += buf;
  }
  return out + "]";
}

int die(const std::string& what, const ovl::Error& e) {
  std::fprintf(stderr, "ovl-kfloor: %s: %s\n", what.c_str(), e.msg.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: ovl-kfloor N CONTAINER_NETNS_PATH\n");
    return 2;
  }
  const int n = std::atoi(argv[1]);
  auto netns = ovl::ns::Netns::open(argv[2]);
  if (!netns) return die("opening the container namespace", netns.error());
  auto sock = ovl::nl::Socket::open();
  if (!sock) return die("netlink", sock.error());

  std::vector<double> create, del, commit, destroy;
  ovl::nfnl::Batch setup;
  setup.addTable(ovl::nfnl::Family::Inet, "ovl_kfloor");
  setup.addSet(ovl::nfnl::Family::Inet, "ovl_kfloor",
               ovl::nfnl::SetSpec{.name = "s", .keyType = 7, .keyLen = 4, .userdata = {}});  // ipv4_addr
  for (int i = 0; i < n; ++i) {
    const std::string host = "kfloor" + std::to_string(i), peer = "kfpeer" + std::to_string(i);
    auto t0 = Clock::now();
    auto pair = ovl::nl::createVeth(*sock, host, peer, netns->fd(), 1500, std::nullopt, std::nullopt);
    if (!pair) return die("creating a veth pair", pair.error());
    create.push_back(msSince(t0));
    t0 = Clock::now();
    if (auto r = ovl::nl::deleteLink(*sock, host); !r) return die("deleting a veth pair", r.error());
    del.push_back(msSince(t0));
    if (auto r = setup.commit("a table with a set"); !r) return die("nftables", r.error());
    const ovl::nfnl::Element e{.key = {uint8_t(i), 0, 0, 0}, .data = {}, .comment = "kfloor"};
    ovl::nfnl::Batch add;
    add.addElements(ovl::nfnl::Family::Inet, "ovl_kfloor", "s", {e});
    t0 = Clock::now();
    if (auto r = add.commit("one element"); !r) return die("nftables", r.error());
    commit.push_back(msSince(t0));
    ovl::nfnl::Batch drop;
    drop.deleteTable(ovl::nfnl::Family::Inet, "ovl_kfloor");
    t0 = Clock::now();
    if (auto r = drop.commit("deleting the table"); !r) return die("nftables", r.error());
    destroy.push_back(msSince(t0));
  }
  std::printf("{\"vethCreateMs\": %s, \"vethDeleteMs\": %s, \"nftCommitMs\": %s, \"nftDestroyMs\": %s}\n",
              list(create).c_str(), list(del).c_str(), list(commit).c_str(), list(destroy).c_str());
  return 0;
}
