#include "ipc/resolver_link.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

#include "cni/json.hpp"
#include "util/unique_fd.hpp"

namespace ovl::ipc {

std::string encodeRequest(const ResolverRequest& r) {
  rapidjson::StringBuffer sb;
  json::Writer w(sb);
  w.StartObject();
  json::key(w, "op"); json::str(w, r.op == ResolverRequest::Attach ? "attach" : "detach");
  json::key(w, "network"); json::str(w, r.network);
  json::key(w, "containerID"); json::str(w, r.containerId);
  json::key(w, "ifname"); json::str(w, r.ifName);
  if (!r.netnsPath.empty()) { json::key(w, "netns"); json::str(w, r.netnsPath); }
  w.EndObject();
  return sb.GetString();
}

Result<ResolverRequest> decodeRequest(std::string_view text) {
  json::Doc d;
  TRY_VOID(json::parseInto(d, text, "resolver request"));
  if (!d.IsObject()) return fail(Code::InvalidConfig, "resolver request must be a JSON object");
  ResolverRequest r;
  const std::string op = TRY(json::reqString(d, "op", ""));
  if (op == "attach") r.op = ResolverRequest::Attach;
  else if (op == "detach") r.op = ResolverRequest::Detach;
  else return fail(Code::InvalidConfig, "resolver request: unknown op '" + op + "'");
  r.network = TRY(json::reqString(d, "network", ""));
  r.containerId = TRY(json::reqString(d, "containerID", ""));
  r.ifName = TRY(json::reqString(d, "ifname", ""));
  r.netnsPath = TRY(json::optString(d, "netns", "")).value_or("");
  if (r.network.empty() || r.containerId.empty() || r.ifName.empty())
    return fail(Code::InvalidConfig, "resolver request: network, containerID and ifname must not be empty");
  return r;
}

Result<std::string> resolverSocketPath(const std::string& stateDir) {
  struct stat st{};
  if (::stat("/proc/thread-self/ns/net", &st) != 0) return fail(sysError(errno, "stat /proc/thread-self/ns/net"));
  std::string path = stateDir + "/ns-" + std::to_string(st.st_ino) + "/resolver.sock";
  if (path.size() >= sizeof(sockaddr_un{}.sun_path))
    return fail(Code::InvalidConfig, "resolver socket path '" + path + "' is too long for a unix socket; use a shorter stateDir");
  return path;
}

Result<void> tellResolver(const std::string& stateDir, const ResolverRequest& r, int netnsFd, int timeoutMs) {
  const std::string path = TRY(resolverSocketPath(stateDir));
  UniqueFd s(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!s) return fail(sysError(errno, "resolver socket"));
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  if (::connect(s.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
    return fail(sysError(errno, "connecting to the resolver at " + path));

  const std::string msg = encodeRequest(r);
  iovec iov{const_cast<char*>(msg.data()), msg.size()};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))]{};
  if (netnsFd >= 0) {
    mh.msg_control = ctl;
    mh.msg_controllen = sizeof ctl;
    cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &netnsFd, sizeof(int));
  }
  if (::sendmsg(s.get(), &mh, MSG_NOSIGNAL) < 0) return fail(sysError(errno, "sending to the resolver"));

  pollfd p{s.get(), POLLIN, 0};
  int n;
  do n = ::poll(&p, 1, timeoutMs); while (n < 0 && errno == EINTR);
  if (n == 0) return fail(Code::TryAgainLater, "the resolver did not answer within " + std::to_string(timeoutMs) + " ms");
  char buf[512];
  ssize_t got = ::recv(s.get(), buf, sizeof buf, 0);
  if (got < 0) return fail(sysError(errno, "reading the resolver's reply"));
  std::string reply(buf, size_t(got));
  if (reply == "ok") return {};
  return fail(Code::Internal, "the resolver refused: " + (reply.empty() ? std::string("no reply") : reply));
}

}  // namespace ovl::ipc
