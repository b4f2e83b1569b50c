// A NETLINK_NETFILTER socket in the calling thread's network namespace: one nf_tables transaction
// (a batch), or one dump.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string_view>

#include "nfnl/wire.hpp"
#include "util/error.hpp"
#include "util/unique_fd.hpp"

namespace ovl::nfnl {

class Socket {
 public:
  static Result<Socket> open();

  // A message of a batch the kernel refused: its index among the batch's commands, and the errno.
  struct Refusal {
    size_t index;
    int err;
  };
  // Sends a batch whose `count` commands carry NLM_F_ACK and the sequence numbers first, first+1, ...;
  // the kernel applies all of them or none. Returns the first refusal, if any.
  Result<std::optional<Refusal>> commit(const Bytes& batch, uint32_t first, size_t count);

  // Sends a request for one object (no NLM_F_DUMP) and returns the kernel's answer, the whole message;
  // nullopt when it answers ENOENT (the object or its table does not exist).
  Result<std::optional<Bytes>> get(const Bytes& request);

  // Sends a dump request and calls `each` with every message of the answer. False when the kernel
  // answers ENOENT (the table or set does not exist); an error with sysErrno EINTR when the ruleset changed
  // during the dump (the caller reads again).
  Result<bool> dump(const Bytes& request, const std::function<void(std::span<const uint8_t>)>& each);

 private:
  explicit Socket(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace ovl::nfnl
