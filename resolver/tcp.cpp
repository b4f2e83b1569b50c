// DNS over TCP at 127.0.0.11:53 (RFC 7766), so that a client whose UDP answer came back truncated (TC)
// can ask again and get all of it. Same epoll loop as UDP; every resource is bounded: connections per
// container, message size, time per connection and per relay to an upstream.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "ipc/resolver_link.hpp"
#include "resolver/server.hpp"
#include "util/log.hpp"

namespace ovl::resolver {
namespace {

using Clock = std::chrono::steady_clock;
// A container gets this many connections at once; more are closed as they are accepted.
constexpr size_t kMaxTcpPerSandbox = 16;
// All relays at once, over every container (as the UDP pending cap).
constexpr size_t kMaxTcpRelays = 256;
// A query longer than this closes its connection (queries are small; answers may be up to 64 KiB).
constexpr size_t kMaxTcpQuery = 4096;
// A connection is closed this long after it was accepted or last answered, unless a relay is under way.
constexpr auto kTcpIdle = std::chrono::seconds(10);
constexpr auto kTcpAcceptPause = std::chrono::milliseconds(100);
constexpr int kBacklog = 16;

std::vector<uint8_t> framed(std::span<const uint8_t> msg) {
  std::vector<uint8_t> out(2 + msg.size());
  out[0] = uint8_t(msg.size() >> 8);
  out[1] = uint8_t(msg.size() & 0xff);
  if (!msg.empty()) std::memcpy(out.data() + 2, msg.data(), msg.size());
  return out;
}

// The message a framed buffer holds once complete; nullopt while more bytes are due.
std::optional<std::vector<uint8_t>> takeMessage(std::vector<uint8_t>& in) {
  if (in.size() < 2) return std::nullopt;
  const size_t len = (size_t(in[0]) << 8) | in[1];
  if (in.size() < 2 + len) return std::nullopt;
  std::vector<uint8_t> msg(in.begin() + 2, in.begin() + std::ptrdiff_t(2 + len));
  in.erase(in.begin(), in.begin() + std::ptrdiff_t(2 + len));
  return msg;
}

size_t announcedLength(const std::vector<uint8_t>& in) { return in.size() < 2 ? 0 : (size_t(in[0]) << 8) | in[1]; }

}  // namespace

Result<void> Server::listenTcp(Sandbox& sb) {
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!s) return fail(sysError(errno, "TCP socket"));
  int one = 1;
  (void)::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  (void)::setsockopt(s.get(), IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(53);
  ::inet_pton(AF_INET, ipc::kResolverAddress, &sa.sin_addr);
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(s.get(), kBacklog) != 0)
    return fail(sysError(errno, std::string("listening on TCP ") + ipc::kResolverAddress + ":53"));
  sb.tcp = std::move(s);
  return {};
}

void Server::onTcpAccept(int listenFd) {
  const int sandbox = tcpListeners_.at(listenFd);
  for (int i = 0; i < int(kMaxTcpPerSandbox); ++i) {
    UniqueFd c(::accept4(listenFd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!c) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // The connection stays in the backlog: stop watching rather than spin on a readable socket.
        setEvents(listenFd, 0);
        tcpPaused_[listenFd] = Clock::now() + kTcpAcceptPause;
      }
      return;
    }
    size_t mine = 0;
    for (const auto& [fd, conn] : tcpConns_) mine += conn.sandbox == sandbox;
    if (mine >= kMaxTcpPerSandbox) {
      ++stats_.tcpRejected;
      continue;  // closed
    }
    ++stats_.tcpConnections;
    const int fd = c.get();
    watch(fd);
    tcpConns_.emplace(fd, TcpConn{.fd = std::move(c), .sandbox = sandbox, .deadline = Clock::now() + kTcpIdle});
  }
}

void Server::tcpReply(TcpConn& c, const std::vector<uint8_t>& msg) {
  counters_.answer(msg.data(), msg.size());
  c.out = framed(msg);
  c.outOff = 0;
  setEvents(c.fd.get(), EPOLLOUT);
}

void Server::onTcpConn(int fd, uint32_t events) {
  TcpConn& c = tcpConns_.at(fd);
  if (c.outOff < c.out.size()) {
    ssize_t n = ::send(fd, c.out.data() + c.outOff, c.out.size() - c.outOff, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) return closeTcpConn(fd);
    c.outOff += size_t(n);
    if (c.outOff < c.out.size()) return;
    c.out.clear();
    c.outOff = 0;
    c.deadline = Clock::now() + kTcpIdle;
    setEvents(fd, EPOLLIN);
  } else if (c.relay < 0 && (events & EPOLLIN)) {
    uint8_t buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) return closeTcpConn(fd);
    c.in.insert(c.in.end(), buf, buf + n);
  } else if (events & (EPOLLERR | EPOLLHUP)) {
    return closeTcpConn(fd);
  }
  if (c.relay >= 0 || !c.out.empty()) return;
  if (announcedLength(c.in) > kMaxTcpQuery) return closeTcpConn(fd);
  auto msg = takeMessage(c.in);
  if (!msg) return;
  counters_.query(metrics::Transport::Tcp);
  auto q = parseQuery(*msg);
  auto sb = sandboxes_.find(c.sandbox);
  if (!q || sb == sandboxes_.end()) {
    counters_.malformed();
    return closeTcpConn(fd);
  }
  if (auto local = localAnswer(sb->second, *q)) return tcpReply(c, *local);
  if (opt_.upstreams.empty() || tcpRelays_.size() >= kMaxTcpRelays) {
    ++stats_.refused;
    return tcpReply(c, buildError(*q, kRcodeServFail));
  }
  counters_.forwarded();
  setEvents(fd, 0);  // one query at a time: what follows waits in the socket
  tcpRelay(fd, std::move(*msg), 0);
}

void Server::tcpRelay(int connFd, std::vector<uint8_t> query, size_t upstream) {
  auto conn = tcpConns_.find(connFd);
  if (conn == tcpConns_.end()) return;
  conn->second.relay = -1;
  for (; upstream < opt_.upstreams.size(); ++upstream) {
    const Upstream& u = opt_.upstreams[upstream];
    sockaddr_storage sa{};
    const socklen_t len = sockaddrOf(u, sa);
    UniqueFd up(::socket(u.addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!up || (::connect(up.get(), reinterpret_cast<sockaddr*>(&sa), len) != 0 && errno != EINPROGRESS)) continue;
    const int fd = up.get();
    watch(fd);
    setEvents(fd, EPOLLOUT);
    conn->second.relay = fd;
    auto out = framed(query);
    tcpRelays_.emplace(fd, TcpRelay{.fd = std::move(up), .conn = connFd, .query = std::move(query), .upstream = upstream,
                                    .out = std::move(out), .deadline = Clock::now() + std::chrono::milliseconds(
                                                                                          opt_.forwardTimeoutMs)});
    return;
  }
  if (auto q = parseQuery(query)) tcpReply(conn->second, buildError(*q, kRcodeServFail));
  else closeTcpConn(connFd);
}

void Server::onTcpRelay(int fd, uint32_t events) {
  TcpRelay& r = tcpRelays_.at(fd);
  auto next = [&] {
    const int conn = r.conn;
    const size_t upstream = r.upstream;
    auto query = std::move(r.query);
    closeTcpRelay(fd);
    if (conn >= 0) tcpRelay(conn, std::move(query), upstream + 1);  // refused, reset or garbage: next one
  };
  if (r.outOff < r.out.size()) {
    if (events & (EPOLLERR | EPOLLHUP)) return next();
    ssize_t n = ::send(fd, r.out.data() + r.outOff, r.out.size() - r.outOff, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) return next();
    r.outOff += size_t(n);
    if (r.outOff == r.out.size()) setEvents(fd, EPOLLIN);
    return;
  }
  uint8_t buf[16384];
  ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) return next();
  r.in.insert(r.in.end(), buf, buf + n);
  auto answer = takeMessage(r.in);
  if (!answer) return;
  const bool ok = answer->size() >= 12 && (*answer)[0] == r.query[0] && (*answer)[1] == r.query[1] &&
                  ((*answer)[2] & 0x80);
  if (!ok) return next();
  const int conn = r.conn;
  closeTcpRelay(fd);
  auto c = tcpConns_.find(conn);
  if (c == tcpConns_.end()) return;
  c->second.relay = -1;
  tcpReply(c->second, *answer);
}

void Server::closeTcpRelay(int fd) {
  (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  tcpRelays_.erase(fd);
}

void Server::closeTcpConn(int fd) {
  auto it = tcpConns_.find(fd);
  if (it == tcpConns_.end()) return;
  if (it->second.relay >= 0) closeTcpRelay(it->second.relay);
  (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  tcpConns_.erase(it);
}

void Server::dropTcpOf(int udpFd) {
  for (auto it = tcpListeners_.begin(); it != tcpListeners_.end();) {
    if (it->second != udpFd) {
      ++it;
      continue;
    }
    (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->first, nullptr);  // the Sandbox closes it
    tcpPaused_.erase(it->first);
    it = tcpListeners_.erase(it);
  }
  std::vector<int> conns;
  for (const auto& [fd, c] : tcpConns_)
    if (c.sandbox == udpFd) conns.push_back(fd);
  for (int fd : conns) closeTcpConn(fd);
}

void Server::expireTcp() {
  const auto now = Clock::now();
  std::vector<int> late;
  for (const auto& [fd, r] : tcpRelays_)
    if (r.deadline <= now) late.push_back(fd);
  for (int fd : late) {
    TcpRelay& r = tcpRelays_.at(fd);
    const int conn = r.conn;
    const size_t upstream = r.upstream;
    auto query = std::move(r.query);
    closeTcpRelay(fd);
    if (conn >= 0) tcpRelay(conn, std::move(query), upstream + 1);
  }
  late.clear();
  for (const auto& [fd, c] : tcpConns_)
    if (c.relay < 0 && c.deadline <= now) late.push_back(fd);
  for (int fd : late) closeTcpConn(fd);
  for (auto it = tcpPaused_.begin(); it != tcpPaused_.end();) {
    if (it->second > now) {
      ++it;
      continue;
    }
    setEvents(it->first, EPOLLIN);
    it = tcpPaused_.erase(it);
  }
}

}  // namespace ovl::resolver
