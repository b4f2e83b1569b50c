// overlay-resolver's server: one UDP socket on 127.0.0.11:53 inside each container network namespace
// the overlay plugin hands over (resolver_link.hpp), answering from the NameTable for the networks that
// container is attached to, and relaying everything else to the host's upstream resolvers.
//
// Single-threaded (epoll); other threads only publish a new NameTable. It never listens in the host's
// namespace, so it cannot answer on the underlay.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ipc/resolver_link.hpp"
#include "resolver/table.hpp"
#include "util/error.hpp"
#include "util/ip.hpp"
#include "util/unique_fd.hpp"

namespace ovl::resolver {

struct Upstream {
  IpAddr addr;
  uint16_t port = 53;
};
// "a.b.c.d", "a.b.c.d:53", "x::y", "[x::y]:53".
std::optional<Upstream> parseUpstream(std::string_view s);
// The nameservers of a resolv.conf text.
std::vector<Upstream> upstreamsFromResolvConf(std::string_view text);

struct ServerOptions {
  std::string stateDir;
  std::vector<Upstream> upstreams;
  uint32_t ttl = 0;               // answers change as containers come and go
  int forwardTimeoutMs = 2000;    // per upstream
  int sweepIntervalMs = 2000;     // how often attachments whose interface is gone are dropped
};

struct ServerStats {
  uint64_t queries = 0, answered = 0, nxdomain = 0, forwarded = 0, dropped = 0;
  uint64_t refused = 0;  // SERVFAIL for a forward over the pending caps (or without upstreams)
};

class Server {
 public:
  static Result<std::unique_ptr<Server>> start(ServerOptions o);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Any thread: the table to answer from from now on.
  void publish(std::shared_ptr<const NameTable> t);
  // Any thread: the networks of the containers served now, and a callback for when they change (called on
  // the serving thread; nullptr removes it).
  std::set<std::string> servedNetworks() const;
  void onNetworksChanged(std::function<void()> f);
  // Serves until `stopping` is set (checked at least every 200 ms).
  void run(const std::atomic<bool>& stopping);
  const std::string& socketPath() const { return socketPath_; }

 private:
  struct Sandbox {
    dev_t dev = 0;
    ino_t ino = 0;
    UniqueFd netns, udp;
    std::string path;
    std::set<AttachKey> keys;
  };
  struct Pending {
    UniqueFd up;
    int clientFd = -1;  // the sandbox socket to answer on
    std::vector<uint8_t> client;  // sockaddr of the asking process
    std::vector<uint8_t> query;
    uint16_t id = 0;
    size_t upstream = 0;
    std::chrono::steady_clock::time_point deadline;
  };

  explicit Server(ServerOptions o) : opt_(std::move(o)) {}
  Result<void> bindControl();
  void restore();
  void persist() const;
  void onControl(int conn);
  Result<void> attach(const ipc::ResolverRequest& r, int nsFd);
  void detach(const AttachKey& k);
  Result<Sandbox> openSandbox(int nsFd, const std::string& path);
  void dropSandbox(int udpFd);
  void onQuery(int udpFd);
  void forward(int udpFd, const std::vector<uint8_t>& client, std::vector<uint8_t> query, uint16_t id, size_t upstream);
  void onUpstream(int fd);
  void expire();
  void sweep();
  void watch(int fd);
  void acceptAll();
  void noteNetworks();
  size_t pendingOf(int udpFd) const;

  ServerOptions opt_;
  std::string socketPath_;
  UniqueFd epoll_, listen_, wake_;
  std::map<int, Sandbox> sandboxes_;  // by UDP socket fd
  std::map<int, Pending> pending_;    // by upstream socket fd
  std::map<int, UniqueFd> conns_;     // control connections awaiting their request
  std::optional<std::chrono::steady_clock::time_point> acceptPausedUntil_;  // out of descriptors
  bool acceptStarved_ = false;  // said so in the log; cleared by the next accept
  mutable std::mutex netsMu_;
  std::set<std::string> nets_;
  std::function<void()> netsChanged_;
  std::mutex tableMu_;
  std::shared_ptr<const NameTable> table_;
  ServerStats stats_;
};

}  // namespace ovl::resolver
