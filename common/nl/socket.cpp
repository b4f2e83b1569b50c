#include "nl/socket.hpp"

#include <netlink/errno.h>
#include <netlink/socket.h>

#include <string>

#include "nl/error.hpp"
#include "ns/netns.hpp"

namespace ovl::nl {

Result<Socket> Socket::open() {
  SockPtr sk(nl_socket_alloc());
  if (!sk) return fail(nlError(-NLE_NOMEM, "allocating a netlink socket"));
  if (int err = nl_connect(sk.get(), NETLINK_ROUTE); err < 0)
    return fail(nlError(err, "connecting a NETLINK_ROUTE socket"));
  // Large dumps (routes, FDB) arrive faster than we read them; 1 MiB avoids ENOBUFS. Peeking sizes the
  // receive buffer to each datagram so big multipart answers are never truncated.
  (void)nl_socket_set_buffer_size(sk.get(), 1 << 20, 0);
  nl_socket_enable_msg_peek(sk.get());
  return Socket(std::move(sk));
}

Result<Socket> Socket::openInNetns(int netnsFd) {
  std::string what = "netns fd " + std::to_string(netnsFd);
  auto inside = TRY(ns::ScopedNetns::enterFd(netnsFd, what));
  auto s = open();
  if (!s) return fail(std::move(s.error()).context("in " + what));
  return s;  // `inside` switches back (or aborts) here
}

}  // namespace ovl::nl
