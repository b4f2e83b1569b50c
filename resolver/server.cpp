#include "resolver/server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "cni/json.hpp"
#include "nl/link.hpp"
#include "nl/socket.hpp"
#include "ns/netns.hpp"
#include "resolver/wire.hpp"
#include "util/log.hpp"

namespace ovl::resolver {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxPending = 512;
// One container's share of the pending forwards: a container that floods the resolver with names its
// upstreams are slow to answer gets SERVFAIL for the excess; the others keep being answered.
constexpr size_t kMaxPendingPerSandbox = 64;
// Out of file descriptors, accepting stops for this long instead of spinning on a readable listen socket.
constexpr auto kAcceptPause = std::chrono::milliseconds(100);
constexpr int kMaxPerWake = 64;
// Queries held for a read of the store (onUnknownName), in all and per container: past them, NXDOMAIN at once.
constexpr size_t kMaxHeld = 256;
constexpr size_t kMaxHeldPerSandbox = 16;

std::string statePath(const std::string& socketPath) {
  return socketPath.substr(0, socketPath.rfind('/')) + "/resolver.json";
}

std::vector<uint8_t> sockaddrBytes(const sockaddr_storage& sa, socklen_t len) {
  const auto* p = reinterpret_cast<const uint8_t*>(&sa);
  return std::vector<uint8_t>(p, p + len);
}

}  // namespace

std::optional<Upstream> parseUpstream(std::string_view s) {
  Upstream u;
  std::string_view host = s;
  std::optional<std::string_view> port;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = s.substr(1, close - 1);
    if (close + 1 < s.size()) {
      if (s[close + 1] != ':') return std::nullopt;
      port = s.substr(close + 2);
    }
  } else if (std::count(s.begin(), s.end(), ':') == 1) {
    host = s.substr(0, s.find(':'));
    port = s.substr(s.find(':') + 1);
  }
  auto ip = IpAddr::parse(host);
  if (!ip) return std::nullopt;
  u.addr = *ip;
  if (port) {
    if (port->empty() || port->size() > 5) return std::nullopt;
    unsigned v = 0;
    for (char c : *port) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + unsigned(c - '0');
    }
    if (v == 0 || v > 65535) return std::nullopt;
    u.port = uint16_t(v);
  }
  return u;
}

socklen_t sockaddrOf(const Upstream& u, sockaddr_storage& sa) {
  sa = {};
  if (u.addr.family() == AF_INET) {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&sa);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(u.port);
    std::memcpy(&s4->sin_addr, u.addr.bytes(), 4);
    return sizeof *s4;
  }
  auto* s6 = reinterpret_cast<sockaddr_in6*>(&sa);
  s6->sin6_family = AF_INET6;
  s6->sin6_port = htons(u.port);
  std::memcpy(&s6->sin6_addr, u.addr.bytes(), 16);
  return sizeof *s6;
}

std::vector<Upstream> upstreamsFromResolvConf(std::string_view text) {
  std::vector<Upstream> out;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string word, addr;
    if (!(ls >> word) || word != "nameserver" || !(ls >> addr)) continue;
    if (auto pct = addr.find('%'); pct != std::string::npos) continue;  // scoped link-local: not routable from here
    if (auto u = IpAddr::parse(addr)) out.push_back(Upstream{*u, 53});
  }
  return out;
}

Result<std::unique_ptr<Server>> Server::start(ServerOptions o) {
  std::unique_ptr<Server> s(new Server(std::move(o)));
  s->epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!s->epoll_) return fail(sysError(errno, "epoll_create1"));
  s->wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!s->wake_) return fail(sysError(errno, "eventfd"));
  s->watch(s->wake_.get());
  TRY_VOID(s->bindControl());
  // After the control socket: a second resolver, refused above, leaves the counters alone.
  auto counters = [&]() -> Result<metrics::ResolverCounters> {
    return metrics::ResolverCounters::open(TRY(metrics::resolverCountersFile(s->opt_.stateDir)));
  }();
  if (counters) s->counters_ = std::move(*counters);
  else log::warn(counters.error().msg + "; the metrics endpoint will not show this resolver's counts");
  s->restore();
  return s;
}

void Server::sendTo(int fd, std::span<const uint8_t> msg, const std::vector<uint8_t>& client) {
  if (msg.empty()) return;
  counters_.answer(msg.data(), msg.size());
  (void)::sendto(fd, msg.data(), msg.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
                 reinterpret_cast<const sockaddr*>(client.data()), socklen_t(client.size()));
}

Server::~Server() { removeSocket(); }

void Server::removeSocket() const {
  if (!socketPath_.empty()) ::unlink(socketPath_.c_str());
}

void Server::watch(int fd) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) log::error("epoll_ctl: " + std::string(std::strerror(errno)));
}

void Server::setEvents(int fd, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) != 0) log::error("epoll_ctl: " + std::string(std::strerror(errno)));
}

Result<void> Server::bindControl() {
  socketPath_ = TRY(ipc::resolverSocketPath(opt_.stateDir));
  const std::string dir = socketPath_.substr(0, socketPath_.rfind('/'));
  for (size_t p = dir.find('/', 1);; p = dir.find('/', p + 1)) {
    const std::string part = dir.substr(0, p);
    if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) return fail(sysError(errno, "mkdir " + part));
    if (p == std::string::npos) break;
  }
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, socketPath_.c_str(), socketPath_.size() + 1);
  {  // Another resolver answering on this socket owns this host: do not steal it.
    UniqueFd probe(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (probe && ::connect(probe.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
      std::string path = std::exchange(socketPath_, "");
      return fail(Code::Internal, "another overlay-resolver is already serving " + path);
    }
  }
  ::unlink(socketPath_.c_str());
  listen_.reset(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!listen_) return fail(sysError(errno, "socket"));
  const mode_t old = ::umask(0177);
  const int rc = ::bind(listen_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  ::umask(old);
  if (rc != 0) return fail(sysError(errno, "bind " + socketPath_));
  if (::listen(listen_.get(), 128) != 0) return fail(sysError(errno, "listen " + socketPath_));
  watch(listen_.get());
  return {};
}

void Server::publish(std::shared_ptr<const NameTable> t) {
  {
    std::lock_guard lk(tableMu_);
    table_ = std::move(t);
  }
  uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
}

std::set<std::string> Server::servedNetworks() const {
  std::lock_guard lk(netsMu_);
  return nets_;
}

void Server::onNetworksChanged(std::function<void()> f) {
  std::lock_guard lk(netsMu_);
  netsChanged_ = std::move(f);
}

void Server::onUnknownName(std::function<void(const std::set<std::string>&)> f) {
  std::lock_guard lk(netsMu_);
  unknownName_ = std::move(f);
}

void Server::readsDone(const std::map<std::string, Clock::time_point>& started) {
  {
    std::lock_guard lk(tableMu_);
    for (const auto& [net, at] : started) readsDone_[net] = std::max(readsDone_[net], at), readsNew_.insert(net);
  }
  uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
}

bool Server::hold(int udpFd, const Sandbox& sb, const std::vector<uint8_t>& client, const Query& q) {
  if (held_.size() >= kMaxHeld) return false;
  if (std::count_if(held_.begin(), held_.end(), [&](const Held& h) { return h.udpFd == udpFd; }) >=
      ptrdiff_t(kMaxHeldPerSandbox))
    return false;
  std::set<std::string> nets;
  for (const auto& k : sb.keys) nets.insert(k.network);
  std::set<std::string> ask;
  for (const auto& n : nets)
    if (!asked_.count(n)) ask.insert(n);
  {
    std::lock_guard lk(netsMu_);
    if (!unknownName_) return false;
    if (!ask.empty()) unknownName_(ask);
  }
  asked_.insert(ask.begin(), ask.end());
  if (log::level() == log::Level::Debug)
    log::debug("query for " + q.name + " held" + (ask.empty() ? "" : ", reads asked for " + std::to_string(ask.size()) + " networks"));
  const auto now = Clock::now();
  held_.push_back(Held{udpFd, client, q, std::move(nets), now, now + std::chrono::milliseconds(opt_.holdUnknownMs)});
  counters_.held();
  return true;
}

void Server::answerHeld() {
  std::map<std::string, Clock::time_point> done;
  std::shared_ptr<const NameTable> table;
  {
    std::lock_guard lk(tableMu_);
    for (const auto& net : readsNew_) asked_.erase(net);
    readsNew_.clear();
    if (held_.empty()) return;
    done = readsDone_;
    table = table_;
  }
  const auto now = Clock::now();
  std::set<std::string> again;  // networks whose read started before a query still held came
  std::erase_if(held_, [&](Held& h) {
    const bool read = std::all_of(h.nets.begin(), h.nets.end(), [&](const std::string& n) {
      auto it = done.find(n);
      return it != done.end() && it->second >= h.at;
    });
    NameTable::Answer a;
    if (table) a = table->lookup(h.nets, h.q.name);
    if (a.verdict == NameTable::Verdict::Found) {
      ++stats_.answered;
      counters_.heldFound();
      sendTo(h.udpFd, buildAnswer(h.q, a.addrs, opt_.ttl), h.client);
      return true;
    }
    if (read || now >= h.deadline) {
      ++stats_.nxdomain;
      sendTo(h.udpFd, buildError(h.q, kRcodeNxDomain), h.client);
      return true;
    }
    for (const auto& n : h.nets)
      if (!asked_.count(n)) again.insert(n);
    return false;
  });
  if (again.empty()) return;
  std::lock_guard lk(netsMu_);
  if (!unknownName_) return;
  unknownName_(again);
  asked_.insert(again.begin(), again.end());
}

void Server::noteNetworks() {
  std::set<std::string> now;
  for (const auto& [fd, sb] : sandboxes_)
    for (const auto& k : sb.keys) now.insert(k.network);
  std::lock_guard lk(netsMu_);
  if (now == nets_) return;
  nets_ = std::move(now);
  if (netsChanged_) netsChanged_();
}

Result<Server::Sandbox> Server::openSandbox(int nsFd, const std::string& path) {
  struct stat st{};
  if (::fstat(nsFd, &st) != 0) return fail(sysError(errno, "fstat netns"));
  Sandbox sb;
  sb.dev = st.st_dev;
  sb.ino = st.st_ino;
  sb.path = path;
  sb.netns.reset(::fcntl(nsFd, F_DUPFD_CLOEXEC, 0));
  if (!sb.netns) return fail(sysError(errno, "dup netns fd"));
  {
    auto inside = TRY(ns::ScopedNetns::enterFd(nsFd, "container netns " + path));
    // 127.0.0.11 lives on lo: bring it up if the runtime has not (what the CNI loopback plugin does).
    auto nl = TRY(nl::Socket::open());
    if (auto lo = TRY(nl::findLink(nl, "lo")); lo && !lo->up) TRY_VOID(nl::setLinkUp(nl, lo->index, true));
    sb.udp.reset(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!sb.udp) return fail(sysError(errno, "socket in " + path));
    int one = 1;
    (void)::setsockopt(sb.udp.get(), IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(53);
    ::inet_pton(AF_INET, ipc::kResolverAddress, &sa.sin_addr);
    if (::bind(sb.udp.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
      return fail(sysError(errno, std::string("binding ") + ipc::kResolverAddress + ":53 in " + path));
    if (auto t = listenTcp(sb); !t) log::warn(t.error().msg + ": answering over UDP only in " + path);
  }
  return sb;
}

Result<void> Server::attach(const ipc::ResolverRequest& r, int nsFd) {
  struct stat st{};
  if (nsFd < 0 || ::fstat(nsFd, &st) != 0) return fail(Code::InvalidConfig, "attach without a network namespace");
  AttachKey k{r.network, r.containerId, r.ifName};
  for (auto& [fd, sb] : sandboxes_)
    if (sb.dev == st.st_dev && sb.ino == st.st_ino) {
      sb.keys.insert(k);
      noteNetworks();
      return {};
    }
  auto sb = TRY(openSandbox(nsFd, r.netnsPath));
  sb.keys.insert(k);
  const int fd = sb.udp.get();
  watch(fd);
  if (sb.tcp) {
    watch(sb.tcp.get());
    tcpListeners_.emplace(sb.tcp.get(), fd);
  }
  sandboxes_.emplace(fd, std::move(sb));
  noteNetworks();
  log::info("serving " + std::string(ipc::kResolverAddress) + ":53 for " + r.containerId + "/" + r.ifName + " on '" +
            r.network + "'");
  return {};
}

void Server::dropSandbox(int udpFd) {
  (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, udpFd, nullptr);
  dropTcpOf(udpFd);
  for (auto& [fd, p] : pending_)
    if (p.clientFd == udpFd) p.clientFd = -1;
  // Before the descriptor's number can name another container's socket.
  std::erase_if(held_, [&](const Held& h) { return h.udpFd == udpFd; });
  sandboxes_.erase(udpFd);
}

void Server::detach(const AttachKey& k) {
  for (auto it = sandboxes_.begin(); it != sandboxes_.end(); ++it) {
    if (!it->second.keys.erase(k)) continue;
    log::info("stopped serving " + k.containerId + "/" + k.ifName + " on '" + k.network + "'");
    if (it->second.keys.empty()) dropSandbox(it->first);
    noteNetworks();
    return;
  }
}

void Server::onControl(int conn) {
  UniqueFd c = std::move(conns_[conn]);
  conns_.erase(conn);
  (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, conn, nullptr);
  char buf[4096];
  iovec iov{buf, sizeof buf};
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * 4)];
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = ctl;
  mh.msg_controllen = sizeof ctl;
  ssize_t n = ::recvmsg(c.get(), &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  std::vector<UniqueFd> fds;
  for (cmsghdr* h = n >= 0 ? CMSG_FIRSTHDR(&mh) : nullptr; h; h = CMSG_NXTHDR(&mh, h))
    if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS)
      for (size_t i = 0; i < (h->cmsg_len - CMSG_LEN(0)) / sizeof(int); ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof fd);
        fds.emplace_back(fd);
      }
  auto reply = [&](const std::string& s) { (void)::send(c.get(), s.data(), s.size(), MSG_NOSIGNAL | MSG_DONTWAIT); };
  if (n <= 0 || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) return reply("error: unreadable request");
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(c.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != 0)
    return reply("error: only root may talk to the resolver");
  auto req = ipc::decodeRequest(std::string_view(buf, size_t(n)));
  if (!req) return reply("error: " + req.error().msg);
  if (req->op == ipc::ResolverRequest::Attach) {
    if (fds.size() != 1) return reply("error: attach needs exactly one network namespace fd");
    if (auto r = attach(*req, fds[0].get()); !r) {
      log::warn("attach " + req->containerId + ": " + r.error().msg);
      return reply("error: " + r.error().msg);
    }
  } else {
    detach(AttachKey{req->network, req->containerId, req->ifName});
  }
  persist();
  reply("ok");
}

std::optional<std::vector<uint8_t>> Server::localAnswer(const Sandbox& sb, const Query& q, bool* unknown) {
  if (q.qclass != kClassIN) return buildError(q, kRcodeNotImp);
  std::shared_ptr<const NameTable> table;
  {
    std::lock_guard lk(tableMu_);
    table = table_;
  }
  std::set<std::string> nets;
  for (const auto& k : sb.keys) nets.insert(k.network);
  NameTable::Answer a;
  if (table) a = table->lookup(nets, q.name);
  else a.verdict = q.name.find('.') == std::string::npos ? NameTable::Verdict::NxDomain : NameTable::Verdict::Forward;
  switch (a.verdict) {
    case NameTable::Verdict::Found: ++stats_.answered; return buildAnswer(q, a.addrs, opt_.ttl);
    case NameTable::Verdict::NxDomain:
      if (unknown) *unknown = true;
      else ++stats_.nxdomain;
      return buildError(q, kRcodeNxDomain);
    case NameTable::Verdict::Forward: break;
  }
  return std::nullopt;
}

void Server::onQuery(int udpFd) {
  auto sbIt = sandboxes_.find(udpFd);
  if (sbIt == sandboxes_.end()) return;
  for (int i = 0; i < kMaxPerWake; ++i) {
    uint8_t buf[4096];
    sockaddr_storage from{};
    socklen_t flen = sizeof from;
    ssize_t n = ::recvfrom(udpFd, buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &flen);
    if (n < 0) return;
    counters_.query(metrics::Transport::Udp);
    auto q = parseQuery(std::span<const uint8_t>(buf, size_t(n)));
    if (!q) {
      counters_.malformed();
      continue;
    }
    const auto client = sockaddrBytes(from, flen);
    bool unknown = false;
    if (auto local = localAnswer(sbIt->second, *q, &unknown)) {
      if (unknown && hold(udpFd, sbIt->second, client, *q)) continue;
      if (unknown) ++stats_.nxdomain;
      sendTo(udpFd, *local, client);
      continue;
    }
    if (opt_.upstreams.empty() || pending_.size() >= kMaxPending || pendingOf(udpFd) >= kMaxPendingPerSandbox) {
      ++stats_.refused;
      sendTo(udpFd, buildError(*q, kRcodeServFail), client);
      continue;
    }
    counters_.forwarded();
    forward(udpFd, client, std::move(q->raw), q->id, 0);
  }
}

void Server::forward(int udpFd, const std::vector<uint8_t>& client, std::vector<uint8_t> query, uint16_t id,
                     size_t upstream) {
  for (; upstream < opt_.upstreams.size(); ++upstream) {
    const Upstream& u = opt_.upstreams[upstream];
    sockaddr_storage sa{};
    const socklen_t len = sockaddrOf(u, sa);
    UniqueFd up(::socket(u.addr.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!up || ::connect(up.get(), reinterpret_cast<sockaddr*>(&sa), len) != 0 ||
        ::send(up.get(), query.data(), query.size(), MSG_NOSIGNAL) < 0)
      continue;
    const int fd = up.get();
    watch(fd);
    pending_.emplace(fd, Pending{std::move(up), udpFd, client, std::move(query), id, upstream,
                                 Clock::now() + std::chrono::milliseconds(opt_.forwardTimeoutMs)});
    return;
  }
  if (auto q = parseQuery(query)) sendTo(udpFd, buildError(*q, kRcodeServFail), client);
}

void Server::onUpstream(int fd) {
  auto it = pending_.find(fd);
  if (it == pending_.end()) return;
  uint8_t buf[65536];
  ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  if (n < 0 && errno == EAGAIN) return;
  Pending p = std::move(it->second);
  pending_.erase(it);
  (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  const bool ok = n >= 12 && ((uint16_t(buf[0]) << 8) | buf[1]) == p.id && (buf[2] & 0x80);
  if (p.clientFd < 0) return;
  if (ok) return sendTo(p.clientFd, std::span<const uint8_t>(buf, size_t(n)), p.client);
  forward(p.clientFd, p.client, std::move(p.query), p.id, p.upstream + 1);  // refused or garbage: next one
}

void Server::expire() {
  const auto now = Clock::now();
  std::vector<int> late;
  for (const auto& [fd, p] : pending_)
    if (p.deadline <= now) late.push_back(fd);
  for (int fd : late) {
    Pending p = std::move(pending_[fd]);
    pending_.erase(fd);
    (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
    if (p.clientFd >= 0) forward(p.clientFd, p.client, std::move(p.query), p.id, p.upstream + 1);
  }
}

// An attachment whose interface has left its namespace is over (DEL, GC, or the veth deleted by hand):
// forget it, and close the socket (which otherwise keeps the namespace alive) with the last one.
void Server::sweep() {
  bool changed = false;
  std::vector<int> empty;
  for (auto& [fd, sb] : sandboxes_) {
    auto s = nl::Socket::openInNetns(sb.netns.get());
    if (!s) continue;
    for (auto it = sb.keys.begin(); it != sb.keys.end();) {
      auto link = nl::findLink(*s, it->ifName);
      if (link && !*link) {
        log::info("interface " + it->ifName + " of " + it->containerId + " is gone; no longer serving it");
        it = sb.keys.erase(it);
        changed = true;
      } else {
        ++it;
      }
    }
    if (sb.keys.empty()) empty.push_back(fd);
  }
  for (int fd : empty) dropSandbox(fd);
  if (changed) noteNetworks(), persist();
}

void Server::persist() const {
  rapidjson::StringBuffer sb;
  json::Writer w(sb);
  w.StartArray();
  for (const auto& [fd, s] : sandboxes_) {
    w.StartObject();
    json::key(w, "netns"); json::str(w, s.path);
    json::key(w, "dev"); w.Uint64(uint64_t(s.dev));
    json::key(w, "ino"); w.Uint64(uint64_t(s.ino));
    json::key(w, "attachments");
    w.StartArray();
    for (const auto& k : s.keys) {
      w.StartObject();
      json::key(w, "network"); json::str(w, k.network);
      json::key(w, "containerID"); json::str(w, k.containerId);
      json::key(w, "ifname"); json::str(w, k.ifName);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  const std::string path = statePath(socketPath_), tmp = path + ".tmp";
  {
    const mode_t old = ::umask(0077);
    std::ofstream out(tmp, std::ios::trunc);
    ::umask(old);
    out << sb.GetString();
    if (!out) {
      log::warn("cannot write " + tmp);
      return;
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) log::warn("cannot rename " + tmp + ": " + std::strerror(errno));
}

// After a restart: reopen the namespaces recorded by the previous run, when they are still the same ones.
void Server::restore() {
  std::ifstream in(statePath(socketPath_));
  if (!in) return;
  std::stringstream ss;
  ss << in.rdbuf();
  json::Doc d;
  if (!json::tryParse(d, ss.str()) || !d.IsArray()) return;
  for (const auto& e : d.GetArray()) {
    const auto* path = json::member(e, "netns");
    const auto* dev = json::member(e, "dev");
    const auto* ino = json::member(e, "ino");
    const auto* keys = json::member(e, "attachments");
    if (!path || !path->IsString() || !dev || !dev->IsUint64() || !ino || !ino->IsUint64() || !keys || !keys->IsArray())
      continue;
    auto ns = ns::Netns::open(path->GetString());
    if (!ns || uint64_t(ns->dev()) != dev->GetUint64() || uint64_t(ns->ino()) != ino->GetUint64()) continue;
    for (const auto& k : keys->GetArray()) {
      ipc::ResolverRequest r;
      r.netnsPath = path->GetString();
      auto net = json::member(k, "network"), cid = json::member(k, "containerID"), ifn = json::member(k, "ifname");
      if (!net || !net->IsString() || !cid || !cid->IsString() || !ifn || !ifn->IsString()) continue;
      r.network = net->GetString();
      r.containerId = cid->GetString();
      r.ifName = ifn->GetString();
      if (auto a = attach(r, ns->fd()); !a) log::warn("restoring " + r.containerId + ": " + a.error().msg);
    }
  }
  sweep();
  persist();
}

size_t Server::pendingOf(int udpFd) const {
  size_t n = 0;
  for (const auto& [fd, p] : pending_) n += p.clientFd == udpFd;
  return n;
}

void Server::acceptAll() {
  for (;;) {
    int c = ::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (c >= 0) {
      if (std::exchange(acceptStarved_, false)) log::info("accepting containers' hand-overs again");
      conns_.emplace(c, UniqueFd(c));
      watch(c);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      // The connection stays in the backlog; a level-triggered listen socket would wake us at once.
      if (!std::exchange(acceptStarved_, true))
        log::warn(std::string("accepting a container's hand-over: ") + std::strerror(errno) +
                  "; trying again every " + std::to_string(kAcceptPause.count()) + " ms");
      (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, listen_.get(), nullptr);
      acceptPausedUntil_ = Clock::now() + kAcceptPause;
    }
    return;
  }
}

void Server::run(const std::atomic<bool>& stopping) {
  auto nextSweep = Clock::now() + std::chrono::milliseconds(opt_.sweepIntervalMs);
  while (!stopping) {
    int timeout = acceptPausedUntil_ ? int(kAcceptPause.count()) : 200;
    const auto now = Clock::now();
    for (const auto& [fd, p] : pending_) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(p.deadline - now).count();
      timeout = std::max(0, std::min<int>(timeout, int(ms)));
    }
    for (const auto& h : held_) {
      auto ms = std::chrono::ceil<std::chrono::milliseconds>(h.deadline - now).count();
      timeout = std::max(0, std::min<int>(timeout, int(ms)));
    }
    epoll_event evs[64];
    int n = ::epoll_wait(epoll_.get(), evs, 64, timeout);
    for (int i = 0; i < n; ++i) {
      const int fd = evs[i].data.fd;
      if (fd == wake_.get()) {
        uint64_t v;
        (void)!::read(fd, &v, sizeof v);
      } else if (fd == listen_.get()) {
        acceptAll();
      } else if (conns_.count(fd)) {
        onControl(fd);
      } else if (sandboxes_.count(fd)) {
        onQuery(fd);
      } else if (pending_.count(fd)) {
        onUpstream(fd);
      } else if (tcpListeners_.count(fd)) {
        onTcpAccept(fd);
      } else if (tcpConns_.count(fd)) {
        onTcpConn(fd, evs[i].events);
      } else if (tcpRelays_.count(fd)) {
        onTcpRelay(fd, evs[i].events);
      }
    }
    answerHeld();
    expire();
    expireTcp();
    if (acceptPausedUntil_ && Clock::now() >= *acceptPausedUntil_) {
      acceptPausedUntil_.reset();
      watch(listen_.get());
    }
    if (Clock::now() >= nextSweep) {
      sweep();
      nextSweep = Clock::now() + std::chrono::milliseconds(opt_.sweepIntervalMs);
    }
  }
  const auto counts = counters_.read();
  log::info("stopping: " + std::to_string(counts.queries[0] + counts.queries[1]) + " queries, " +
            std::to_string(stats_.answered) + " answered, " + std::to_string(stats_.nxdomain) + " nxdomain, " +
            std::to_string(counts.forwarded) +
            " forwarded, " + std::to_string(stats_.refused) + " refused over the pending caps, " +
            std::to_string(stats_.tcpConnections) + " TCP connections (" + std::to_string(stats_.tcpRejected) +
            " over the per-container cap), " +
            std::to_string(counts.malformed) + " malformed dropped");
}

}  // namespace ovl::resolver
