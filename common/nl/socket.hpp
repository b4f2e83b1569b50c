// A NETLINK_ROUTE socket bound to one network namespace for its whole life.
#pragma once

#include "nl/handles.hpp"
#include "util/error.hpp"

namespace ovl::nl {

class Socket {
 public:
  // A socket in the calling thread's current network namespace.
  static Result<Socket> open();
  // A socket in the namespace behind netnsFd: the calling thread enters it only to create and connect the
  // socket, then returns (abort() if it cannot). Every later request through the socket acts in that
  // namespace, whatever thread uses it.
  static Result<Socket> openInNetns(int netnsFd);

  nl_sock* get() const { return sock_.get(); }

 private:
  explicit Socket(SockPtr s) : sock_(std::move(s)) {}
  SockPtr sock_;
};

}  // namespace ovl::nl
