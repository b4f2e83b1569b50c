#include "model/listing_link.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <optional>
#include <utility>

#include "model/memory.hpp"
#include "util/log.hpp"

namespace ovl::model {
namespace {

constexpr size_t kMaxFrameBytes = 256u << 20;  // 100,000 attachments of ~350 B with room to spare
constexpr int kReconnectMs = 500;
// Out of descriptors (or kernel memory) for a resolver's connection: it stays in the listen backlog, which
// would wake poll at once, again and again; the listen socket is left out of poll for this long instead.
constexpr int kAcceptPauseMs = 100;

bool readNumber(std::string_view& in, uint64_t& out, char end) {
  auto [p, ec] = std::from_chars(in.data(), in.data() + in.size(), out);
  if (ec != std::errc() || p == in.data() + in.size() || *p != end) return false;
  in.remove_prefix(size_t(p - in.data()) + 1);
  return true;
}

Result<sockaddr_un> addressOf(const std::string& path) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof sa.sun_path) return fail(Code::InvalidConfig, "socket path too long: " + path);
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  return sa;
}

void signal(int eventFd) {
  uint64_t one = 1;
  (void)!::write(eventFd, &one, sizeof one);
}

void drain(int eventFd) {
  uint64_t n;
  (void)!::read(eventFd, &n, sizeof n);
}

}  // namespace

Result<std::string> listingSocketPath(const std::string& stateDir) {
  return TRY(hostStateDir(stateDir)) + "/listings.sock";
}

std::string encodeListing(const std::vector<kv::KvPair>& pairs) {
  size_t size = 0;
  for (const auto& p : pairs) size += 64 + p.key.size() + p.value.size();
  std::string out;
  out.reserve(size);
  for (const auto& p : pairs) {
    out += std::to_string(p.modifyIndex);
    out += ' ';
    out += std::to_string(p.key.size());
    out += ' ';
    out += std::to_string(p.value.size());
    out += '\n';
    out += p.key;
    out += p.value;
  }
  return out;
}

Result<std::vector<KvView>> decodeListingViews(std::string_view text) {
  std::vector<KvView> out;
  while (!text.empty()) {
    uint64_t index = 0, keyLen = 0, valueLen = 0;
    if (!readNumber(text, index, ' ') || !readNumber(text, keyLen, ' ') || !readNumber(text, valueLen, '\n') ||
        keyLen == 0 || keyLen > text.size() || valueLen > text.size() - keyLen)
      return fail(Code::Decode, "shared listing: record " + std::to_string(out.size() + 1) + " is cut or malformed");
    out.push_back({text.substr(0, keyLen), text.substr(keyLen, valueLen), index});
    text.remove_prefix(keyLen + valueLen);
  }
  return out;
}

Result<std::vector<kv::KvPair>> decodeListing(std::string_view text) {
  const auto views = TRY(decodeListingViews(text));
  std::vector<kv::KvPair> out;
  out.reserve(views.size());
  for (const auto& v : views) {
    kv::KvPair p;
    p.key = v.key, p.value = v.value, p.modifyIndex = v.modifyIndex;
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<KvView> viewsOf(const std::vector<kv::KvPair>& pairs) {
  std::vector<KvView> out;
  out.reserve(pairs.size());
  for (const auto& p : pairs) out.push_back({p.key, p.value, p.modifyIndex});
  return out;
}

Result<std::shared_ptr<const ReceivedListing>> ReceivedListing::decode(std::string body) {
  std::shared_ptr<ReceivedListing> l(new ReceivedListing(std::move(body)));
  l->records_ = TRY(decodeListingViews(l->body_));  // views into the body where it stays
  return l;
}

std::string encodeFrame(const Frame& f) {
  std::string out = (f.withdrawn ? "W " : "L ") + std::to_string(f.net.size()) + " " +
                    std::to_string(f.withdrawn ? 0 : f.body.size()) + "\n";
  out.reserve(out.size() + f.net.size() + f.body.size());
  out += f.net;
  if (!f.withdrawn) out += f.body;
  return out;
}

Result<std::optional<Frame>> decodeFrame(std::string& buf) {
  const size_t eol = buf.find('\n');
  if (eol == std::string::npos) {
    if (buf.size() > 64) return fail(Code::Decode, "listing link: a frame header longer than 64 bytes");
    return std::nullopt;
  }
  std::string_view head(buf.data(), eol + 1);
  Frame f;
  if (head.size() < 2 || (head[0] != 'L' && head[0] != 'W') || head[1] != ' ')
    return fail(Code::Decode, "listing link: unknown frame '" + std::string(head.substr(0, 8)) + "'");
  f.withdrawn = head[0] == 'W';
  head.remove_prefix(2);
  uint64_t netLen = 0, bodyLen = 0;
  if (!readNumber(head, netLen, ' ') || !readNumber(head, bodyLen, '\n') || netLen == 0 || netLen > 4096 ||
      bodyLen > kMaxFrameBytes || (f.withdrawn && bodyLen))
    return fail(Code::Decode, "listing link: a malformed frame header");
  if (buf.size() - (eol + 1) < netLen + bodyLen) return std::nullopt;
  f.net = buf.substr(eol + 1, netLen);
  f.body = buf.substr(eol + 1 + netLen, bodyLen);
  buf.erase(0, eol + 1 + netLen + bodyLen);
  return f;
}

// --- the watcher's side --------------------------------------------------------------------------------

Result<std::unique_ptr<ListingServer>> ListingServer::start(const std::string& stateDir) {
  std::unique_ptr<ListingServer> s(new ListingServer());
  const std::string path = TRY(listingSocketPath(stateDir));
  const sockaddr_un sa = TRY(addressOf(path));
  {  // Another watcher answering here shares this host's listings: do not steal its socket.
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (probe && ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0)
      return fail(Code::Internal, "another overlay watch shares listings on " + path);
  }
  ::unlink(path.c_str());
  s->listen_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!s->listen_) return fail(sysError(errno, "socket"));
  const mode_t old = ::umask(0177);
  const int rc = ::bind(s->listen_.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
  ::umask(old);
  if (rc != 0) return fail(sysError(errno, "bind " + path));
  s->path_ = path;
  if (::listen(s->listen_.get(), 16) != 0) return fail(sysError(errno, "listen " + path));
  s->wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!s->wake_) return fail(sysError(errno, "eventfd"));
  s->thread_ = std::thread([p = s.get()] { p->run(); });
  return s;
}

ListingServer::~ListingServer() {
  stop_ = true;
  if (wake_) signal(wake_.get());
  if (thread_.joinable()) thread_.join();
  if (!path_.empty()) ::unlink(path_.c_str());
}

void ListingServer::markDirty(const std::string& net) {
  for (auto& c : clients_) c.dirty.insert(net);
}

bool ListingServer::pending(const Client& c) const {
  return (c.sending && c.sent < c.sending->size()) || !c.dirty.empty();
}

void ListingServer::publish(const std::string& net, const std::vector<kv::KvPair>& pairs) {
  auto frame = std::make_shared<const std::string>(encodeFrame({false, net, encodeListing(pairs)}));
  bool more = false;
  {
    std::lock_guard lk(mu_);
    frames_[net] = std::move(frame);
    markDirty(net);
    // Written from here when the socket takes it (the usual case): one thread hop less before the resolver.
    for (auto& c : clients_) {
      if (!c.gone && !flush(c)) c.gone = true;
      more = more || c.gone || pending(c);
    }
  }
  if (more) signal(wake_.get());  // the thread waits for room, or drops a connection found closed
}

void ListingServer::keepOnly(const std::set<std::string>& nets) {
  bool any = false;
  {
    std::lock_guard lk(mu_);
    for (auto it = frames_.begin(); it != frames_.end();) {
      if (nets.count(it->first)) {
        ++it;
        continue;
      }
      markDirty(it->first);
      it = frames_.erase(it);
      any = true;
    }
  }
  if (any) signal(wake_.get());
}

size_t ListingServer::clients() {
  std::lock_guard lk(mu_);
  return clients_.size();
}

bool ListingServer::flush(Client& c) {
  for (;;) {
    if (!c.sending || c.sent == c.sending->size()) {
      c.sending.reset(), c.sent = 0;
      if (c.dirty.empty()) return true;
      const std::string net = *c.dirty.begin();
      c.dirty.erase(c.dirty.begin());
      auto it = frames_.find(net);
      c.sending = it != frames_.end() ? it->second : std::make_shared<const std::string>(encodeFrame({true, net, ""}));
    }
    const ssize_t n = ::send(c.fd.get(), c.sending->data() + c.sent, c.sending->size() - c.sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
    c.sent += size_t(n);
  }
}

void ListingServer::run() {
  using Clock = std::chrono::steady_clock;
  std::vector<pollfd> fds;
  std::optional<Clock::time_point> acceptPausedUntil;
  bool acceptStarved = false;  // accept failed for want of descriptors: said once, until it works again
  while (!stop_) {
    int timeoutMs = -1;
    if (acceptPausedUntil) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(*acceptPausedUntil - Clock::now()).count();
      if (left > 0) timeoutMs = int(left);
      else acceptPausedUntil.reset();
    }
    fds.assign({{listen_.get(), short(acceptPausedUntil ? 0 : POLLIN), 0}, {wake_.get(), POLLIN, 0}});
    {
      std::lock_guard lk(mu_);
      for (const auto& c : clients_) fds.push_back({c.fd.get(), short(POLLIN | (pending(c) ? POLLOUT : 0)), 0});
    }
    if (::poll(fds.data(), fds.size(), timeoutMs) < 0 && errno != EINTR) {
      log::error(std::string("listing link: poll: ") + std::strerror(errno));
      return;
    }
    if (fds[1].revents) drain(wake_.get());
    std::lock_guard lk(mu_);
    // Only this thread adds or drops clients: fds[2 + i] is clients_[i].
    std::vector<bool> gone(clients_.size(), false);
    for (size_t i = 0; i < clients_.size() && 2 + i < fds.size(); ++i) {
      Client& c = clients_[i];
      gone[i] = c.gone;
      const short ev = fds[2 + i].revents;
      if (ev & POLLIN) {
        char sink[256];
        const ssize_t n = ::recv(c.fd.get(), sink, sizeof sink, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) gone[i] = true;
      }
      if (ev & (POLLERR | POLLHUP)) gone[i] = true;
      if (!gone[i] && !flush(c)) gone[i] = true;
    }
    for (size_t i = clients_.size(); i-- > 0;)
      if (gone[i]) clients_.erase(clients_.begin() + long(i));
    if (!(fds[0].revents & POLLIN)) continue;
    for (;;) {
      UniqueFd fd(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
      if (!fd) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          if (!std::exchange(acceptStarved, true))
            log::warn(std::string("listing link: accepting overlay-resolver: ") + std::strerror(errno) +
                      "; trying again every " + std::to_string(kAcceptPauseMs) + " ms");
          acceptPausedUntil = Clock::now() + std::chrono::milliseconds(kAcceptPauseMs);
        }
        break;
      }
      if (std::exchange(acceptStarved, false)) log::info("listing link: accepting overlay-resolver again");
      ucred cred{};
      socklen_t len = sizeof cred;
      if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != 0) continue;
      Client c;
      c.fd = std::move(fd);
      for (const auto& [net, _] : frames_) c.dirty.insert(net);
      clients_.push_back(std::move(c));
      if (!flush(clients_.back())) clients_.pop_back();
    }
  }
}

// --- the resolver's side -------------------------------------------------------------------------------

ListingClient::ListingClient(std::string socketPath, std::function<void()> onChange)
    : path_(std::move(socketPath)), onChange_(std::move(onChange)) {
  wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_) {
    log::warn(std::string("listing link: eventfd: ") + std::strerror(errno) + "; names come from the store only");
    return;
  }
  thread_ = std::thread([this] { run(); });
}

ListingClient::~ListingClient() {
  stop_ = true;
  if (wake_) signal(wake_.get());
  if (thread_.joinable()) thread_.join();
}

std::optional<ListingClient::Shared> ListingClient::latest(const std::string& net) {
  std::lock_guard lk(mu_);
  auto it = nets_.find(net);
  if (!connected_ || it == nets_.end()) return std::nullopt;
  return it->second;
}

bool ListingClient::connected() {
  std::lock_guard lk(mu_);
  return connected_;
}

void ListingClient::run() {
  auto sa = addressOf(path_);
  if (!sa) return log::warn(sa.error().msg + "; names come from the store only");
  bool warned = false;
  while (!stop_) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd || ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*sa), sizeof *sa) != 0) {
      pollfd p{wake_.get(), POLLIN, 0};
      (void)::poll(&p, 1, kReconnectMs);
      continue;
    }
    {
      std::lock_guard lk(mu_);
      connected_ = true;
    }
    onChange_();
    std::string buf;
    std::vector<char> chunk(1 << 16);
    while (!stop_) {
      pollfd p[2] = {{fd.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
      if (::poll(p, 2, -1) < 0 && errno != EINTR) break;
      if (p[1].revents) break;
      const ssize_t n = ::recv(fd.get(), chunk.data(), chunk.size(), MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n <= 0) break;
      buf.append(chunk.data(), size_t(n));
      bool changed = false, broken = false;
      for (;;) {
        auto f = decodeFrame(buf);
        if (!f) {
          if (!std::exchange(warned, true)) log::warn(f.error().msg + "; reconnecting");
          broken = true;
          break;
        }
        if (!*f) break;
        changed = true;
        if ((*f)->withdrawn) {
          std::lock_guard lk(mu_);
          nets_.erase((*f)->net);
          continue;
        }
        auto listing = ReceivedListing::decode(std::move((*f)->body));  // outside the lock: names may wait on it
        std::lock_guard lk(mu_);
        if (!listing) {  // the network's names then come from the store
          log::warn(listing.error().msg + " (network '" + (*f)->net + "')");
          nets_.erase((*f)->net);
          continue;
        }
        nets_[(*f)->net] = Shared{++version_, std::move(*listing)};
      }
      if (changed) onChange_();
      if (broken) break;
    }
    {
      std::lock_guard lk(mu_);
      connected_ = false;
      nets_.clear();
    }
    onChange_();
    pollfd p{wake_.get(), POLLIN, 0};  // a watcher that stopped, or sent what we cannot read: not in a loop
    (void)::poll(&p, 1, kReconnectMs);
  }
}

}  // namespace ovl::model
