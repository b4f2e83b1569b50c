// overlay-resolver's server: a UDP and a TCP socket on 127.0.0.11:53 inside each container network
// namespace the overlay plugin hands over (resolver_link.hpp), answering from the NameTable for the networks
// that container is attached to, and relaying everything else to the host's upstream resolvers (over TCP
// for a query that came over TCP, so that a client retrying a truncated answer gets the whole one).
// TCP is bounded (resolver/tcp.cpp): a few connections per container, a size limit per message and a
// deadline per connection and per relay.
//
// Single-threaded (epoll); other threads only publish a new NameTable. It never listens in the host's
// namespace, so it cannot answer on the underlay.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "ipc/resolver_link.hpp"
#include "metrics/resolver_counters.hpp"
#include "resolver/table.hpp"
#include "resolver/wire.hpp"
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
// The socket address of an upstream; returns its length.
socklen_t sockaddrOf(const Upstream& u, sockaddr_storage& sa);
// The nameservers of a resolv.conf text.
std::vector<Upstream> upstreamsFromResolvConf(std::string_view text);

struct ServerOptions {
  std::string stateDir;
  std::vector<Upstream> upstreams;
  uint32_t ttl = 0;               // answers change as containers come and go
  int forwardTimeoutMs = 2000;    // per upstream
  int sweepIntervalMs = 2000;     // how often attachments whose interface is gone are dropped
  int holdUnknownMs = 1000;       // the longest a query for a name no table has waits for a read (UDP)
};

// For the log line at exit; queries, forwards and answers by rcode are in the metrics counters.
struct ServerStats {
  uint64_t answered = 0, nxdomain = 0;
  uint64_t refused = 0;  // SERVFAIL for a forward over the pending caps (or without upstreams)
  uint64_t tcpConnections = 0, tcpRejected = 0;  // accepted; closed at once over the per-container cap
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
  // Any thread: `f` is called (on the serving thread) with the networks of a UDP query for a name no table has
  // that would get NXDOMAIN here (single-label, or under a network's name), which is held until readsDone() names, for each of them, a read of the store that started
  // after it came (then answered from the table, NXDOMAIN if the name is still not there), or for
  // holdUnknownMs. A container just added elsewhere is found at once, not when its listing reaches this host.
  // nullptr: such queries get NXDOMAIN at once.
  void onUnknownName(std::function<void(const std::set<std::string>&)> f);
  // Any thread: reads of these networks' attachments that started at these times are done, their names in
  // the table published before the call (a failed read is done too: its held queries get NXDOMAIN).
  void readsDone(const std::map<std::string, std::chrono::steady_clock::time_point>& started);
  // Serves until `stopping` is set (checked at least every 200 ms).
  void run(const std::atomic<bool>& stopping);
  const std::string& socketPath() const { return socketPath_; }
  // Removes the control socket (as the destructor does) and leaves the object whole: at exit the names thread
  // may still call publish() or readsDone() until the process ends. Idempotent.
  void removeSocket() const;

 private:
  struct Sandbox {
    dev_t dev = 0;
    ino_t ino = 0;
    UniqueFd netns, udp, tcp;  // tcp: the listening socket, absent when it could not be bound
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

  // A UDP query for an unknown name, waiting for reads of its sandbox's networks (onUnknownName).
  struct Held {
    int udpFd = -1;
    std::vector<uint8_t> client;
    Query q;
    std::set<std::string> nets;
    std::chrono::steady_clock::time_point at, deadline;
  };

  // One TCP client connection: queries are read and answered one at a time, each framed by a 2-byte length.
  struct TcpConn {
    UniqueFd fd;
    int sandbox = -1;              // its sandbox's UDP fd; -1 once the sandbox is gone
    std::vector<uint8_t> in, out;  // framed
    size_t outOff = 0;
    int relay = -1;                // the upstream connection answering its query, if any
    std::chrono::steady_clock::time_point deadline;
  };
  // One query relayed to an upstream over TCP on behalf of a TcpConn.
  struct TcpRelay {
    UniqueFd fd;
    int conn = -1;                 // -1 once the client has gone
    std::vector<uint8_t> query;    // unframed
    size_t upstream = 0;
    std::vector<uint8_t> out, in;  // framed
    size_t outOff = 0;
    std::chrono::steady_clock::time_point deadline;
  };

  explicit Server(ServerOptions o) : opt_(std::move(o)) {}
  // The answer from this host's names for a sandbox's query; nullopt: it goes upstream.
  // `unknown`: set when the answer is this host's NXDOMAIN (what hold() may keep for a read).
  std::optional<std::vector<uint8_t>> localAnswer(const Sandbox& sb, const Query& q, bool* unknown = nullptr);
  // Holds the query for a read (within the caps); false: answer it now.
  bool hold(int udpFd, const Sandbox& sb, const std::vector<uint8_t>& client, const Query& q);
  // Answers the held queries whose reads are done or whose time is up; asks again for the others' networks.
  void answerHeld();
  void setEvents(int fd, uint32_t events);
  // Sends a DNS message to a container's client over UDP, counting its rcode.
  void sendTo(int fd, std::span<const uint8_t> msg, const std::vector<uint8_t>& client);
  // resolver/tcp.cpp
  Result<void> listenTcp(Sandbox& sb);
  void onTcpAccept(int listenFd);
  void onTcpConn(int fd, uint32_t events);
  void onTcpRelay(int fd, uint32_t events);
  void tcpReply(TcpConn& c, const std::vector<uint8_t>& msg);
  void tcpRelay(int connFd, std::vector<uint8_t> query, size_t upstream);
  void closeTcpConn(int fd);
  void closeTcpRelay(int fd);
  void dropTcpOf(int udpFd);
  void expireTcp();
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
  std::map<int, int> tcpListeners_;   // TCP listening socket -> its sandbox's UDP fd
  std::map<int, TcpConn> tcpConns_;
  std::map<int, TcpRelay> tcpRelays_;
  std::map<int, std::chrono::steady_clock::time_point> tcpPaused_;  // listeners out of descriptors, until
  std::optional<std::chrono::steady_clock::time_point> acceptPausedUntil_;  // out of descriptors
  bool acceptStarved_ = false;  // said so in the log; cleared by the next accept
  mutable std::mutex netsMu_;
  std::set<std::string> nets_;
  std::function<void()> netsChanged_;
  std::function<void(const std::set<std::string>&)> unknownName_;  // under netsMu_
  std::vector<Held> held_;
  std::set<std::string> asked_;  // networks asked for a read whose readsDone() has not come yet
  std::map<std::string, std::chrono::steady_clock::time_point> readsDone_;  // under tableMu_, by network
  std::set<std::string> readsNew_;  // under tableMu_: networks readsDone() named since the serving thread looked
  std::mutex tableMu_;
  std::shared_ptr<const NameTable> table_;
  ServerStats stats_;
  metrics::ResolverCounters counters_;  // mapped from the host's file once started
};

}  // namespace ovl::resolver
