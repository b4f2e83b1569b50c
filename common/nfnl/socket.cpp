#include "nfnl/socket.hpp"

#include <linux/netlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace ovl::nfnl {
namespace {

constexpr size_t kBuf = 1 << 17;  // above the kernel's dump chunk (NLMSG_GOODSIZE), several of them

// Walks the netlink messages of one datagram.
template <typename F>
void forEachMessage(const uint8_t* buf, size_t n, F&& f) {
  int len = static_cast<int>(n);
  for (auto* m = reinterpret_cast<const nlmsghdr*>(buf); NLMSG_OK(m, len); m = NLMSG_NEXT(m, len))
    if (!f(m)) return;
}

int errorOf(const nlmsghdr* m) {
  nlmsgerr e{};
  if (m->nlmsg_len >= NLMSG_LENGTH(sizeof e)) std::memcpy(&e, NLMSG_DATA(m), sizeof e);
  return -e.error;
}

}  // namespace

Result<Socket> Socket::open() {
  UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER));
  if (!fd) return fail(sysError(errno, "nf_tables: netlink socket"));
  // A batch's acknowledgements all arrive before send() returns: room for a few thousand.
  const int size = 1 << 20;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
    (void)::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  sockaddr_nl local{.nl_family = AF_NETLINK, .nl_pad = 0, .nl_pid = 0, .nl_groups = 0};
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0)
    return fail(sysError(errno, "nf_tables: binding the netlink socket"));
  return Socket(std::move(fd));
}

Result<std::optional<Socket::Refusal>> Socket::commit(const Bytes& batch, uint32_t first, size_t count) {
  if (::send(fd_.get(), batch.data(), batch.size(), 0) < 0) return fail(sysError(errno, "nf_tables: sending a batch"));
  // The kernel handles the batch inside send(): every answer is queued by now.
  std::vector<uint8_t> buf(kBuf);
  std::optional<Refusal> refused;
  size_t answered = 0;
  for (;;) {
    const ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0) return fail(sysError(errno, "nf_tables: reading the batch's answers"));
    forEachMessage(buf.data(), size_t(n), [&](const nlmsghdr* m) {
      if (m->nlmsg_type != NLMSG_ERROR || m->nlmsg_seq < first || m->nlmsg_seq >= first + count) return true;
      ++answered;
      if (const int err = errorOf(m); err != 0 && (!refused || m->nlmsg_seq - first < refused->index))
        refused = Refusal{m->nlmsg_seq - first, err};
      return true;
    });
  }
  if (refused) return refused;
  if (answered < count)
    return fail(Code::Internal, "nf_tables acknowledged " + std::to_string(answered) + " of " +
                                    std::to_string(count) + " commands of a batch");
  return std::nullopt;
}

Result<std::optional<Bytes>> Socket::get(const Bytes& request) {
  if (::send(fd_.get(), request.data(), request.size(), 0) < 0) return fail(sysError(errno, "nf_tables: request"));
  std::vector<uint8_t> buf(kBuf);
  for (;;) {
    const ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(sysError(errno, "nf_tables: reading an answer"));
    std::optional<Bytes> answer;
    int err = 0;
    forEachMessage(buf.data(), size_t(n), [&](const nlmsghdr* m) {
      if (m->nlmsg_type == NLMSG_ERROR) {
        err = errorOf(m);
        return err == 0;  // an acknowledgement: the answer follows
      }
      const auto* p = reinterpret_cast<const uint8_t*>(m);
      answer = Bytes(p, p + m->nlmsg_len);
      return false;
    });
    if (err == ENOENT) return std::nullopt;
    if (err != 0) return fail(sysError(err, "nf_tables: request"));
    if (answer) return answer;
  }
}

Result<bool> Socket::dump(const Bytes& request, const std::function<void(std::span<const uint8_t>)>& each) {
  if (::send(fd_.get(), request.data(), request.size(), 0) < 0) return fail(sysError(errno, "nf_tables: dump request"));
  std::vector<uint8_t> buf(kBuf);
  bool interrupted = false;
  for (;;) {
    const ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(sysError(errno, "nf_tables: reading a dump"));
    bool done = false;
    int err = 0;
    forEachMessage(buf.data(), size_t(n), [&](const nlmsghdr* m) {
      if (m->nlmsg_flags & NLM_F_DUMP_INTR) interrupted = true;
      if (m->nlmsg_type == NLMSG_DONE) return !(done = true);
      if (m->nlmsg_type == NLMSG_ERROR) {
        err = errorOf(m);
        return !(done = true);
      }
      each({reinterpret_cast<const uint8_t*>(m), m->nlmsg_len});
      return true;
    });
    if (err == ENOENT) return false;
    if (err != 0) return fail(sysError(err, "nf_tables: dump"));
    // The ruleset changed while the kernel was dumping it: what we read may be inconsistent.
    if (done && interrupted) return fail(sysError(EINTR, "nf_tables: the ruleset changed during a dump"));
    if (done) return true;
  }
}

}  // namespace ovl::nfnl
