#include "metrics/http_server.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "util/log.hpp"

namespace ovl::metrics {
namespace {

constexpr size_t kMaxRequest = 4096;
constexpr int kRequestTimeoutMs = 2000;

Result<UniqueFd> listenOn(const ListenAddr& at) {
  sockaddr_storage ss{};
  const socklen_t len = at.sockaddr(ss);
  UniqueFd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fail(sysError(errno, "metrics: socket"));
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
    return fail(sysError(errno, "metrics: binding " + at.str()));
  if (::listen(fd.get(), 16) != 0) return fail(sysError(errno, "metrics: listening on " + at.str()));
  return fd;
}

// Reads until the end of the request head, the size limit or the deadline; "" on failure.
std::string readHead(int fd) {
  std::string req;
  char buf[1024];
  while (req.size() < kMaxRequest && req.find("\r\n\r\n") == std::string::npos &&
         req.find("\n\n") == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, kRequestTimeoutMs) <= 0) return {};
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return req;
    req.append(buf, size_t(n));
  }
  return req;
}

void sendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data.remove_prefix(size_t(n));
  }
}

std::string response(std::string_view status, std::string_view type, std::string_view body) {
  return "HTTP/1.0 " + std::string(status) + "\r\nContent-Type: " + std::string(type) +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + std::string(body);
}

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::start(const ListenAddr& at, Body body) {
  auto fd = TRY(listenOn(at));
  std::unique_ptr<HttpServer> s(new HttpServer(std::move(fd), std::move(body)));
  s->thread_ = std::thread([p = s.get()] { p->serve(); });
  return s;
}

HttpServer::~HttpServer() {
  stop_ = true;
  ::shutdown(listener_.get(), SHUT_RDWR);
  if (thread_.joinable()) thread_.join();
}

void HttpServer::serve() {
  while (!stop_) {
    pollfd p{listener_.get(), POLLIN, 0};
    if (::poll(&p, 1, 500) <= 0) continue;
    UniqueFd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) continue;
    answer(conn.get());
  }
}

void HttpServer::answer(int fd) {
  const std::string req = readHead(fd);
  const auto lineEnd = req.find_first_of("\r\n");
  if (req.empty() || lineEnd == std::string::npos)
    return sendAll(fd, response("400 Bad Request", "text/plain", "bad request\n"));
  const std::string_view line(req.data(), lineEnd);
  if (!line.starts_with("GET ")) return sendAll(fd, response("405 Method Not Allowed", "text/plain", "GET only\n"));
  std::string_view path = line.substr(4, line.find(' ', 4) == std::string_view::npos ? std::string_view::npos
                                                                                      : line.find(' ', 4) - 4);
  if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  if (path != "/metrics") return sendAll(fd, response("404 Not Found", "text/plain", "try /metrics\n"));
  sendAll(fd, response("200 OK", "text/plain; version=0.0.4; charset=utf-8", body_()));
}

}  // namespace ovl::metrics
