#include "util/error.hpp"

#include <cerrno>
#include <cstring>

namespace ovl {

bool Error::notFound() const {
  return sysErrno == ENOENT || sysErrno == ENODEV || sysErrno == ESRCH || sysErrno == ENXIO;
}

Error&& Error::context(std::string_view what) && {
  msg = std::string(what) + ": " + msg;
  return std::move(*this);
}

Error makeError(Code code, std::string msg, std::string details) {
  return Error{code, std::move(msg), std::move(details), 0};
}

Error sysError(int err, std::string msg) {
  Error e{Code::Internal, std::move(msg), std::strerror(err), err};
  e.msg += ": ";
  e.msg += std::strerror(err);
  return e;
}

}  // namespace ovl
