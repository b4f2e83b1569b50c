// A minimal HTTP/1.0 server for GET /metrics: one thread, one request at a time, requests bounded in size
// and time. The body comes from a callback run on the server's thread for each request.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "metrics/listen_addr.hpp"
#include "util/error.hpp"
#include "util/unique_fd.hpp"

namespace ovl::metrics {

class HttpServer {
 public:
  using Body = std::function<std::string()>;
  // Binds and listens; the thread starts serving at once.
  static Result<std::unique_ptr<HttpServer>> start(const ListenAddr& at, Body body);
  ~HttpServer();  // stops the thread and closes the socket
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

 private:
  HttpServer(UniqueFd listener, Body body) : listener_(std::move(listener)), body_(std::move(body)) {}
  void serve();
  void answer(int fd);
  UniqueFd listener_;
  Body body_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace ovl::metrics
