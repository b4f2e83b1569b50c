#include "nl/error.hpp"

#include <netlink/errno.h>

#include <cerrno>
#include <cstdlib>

namespace ovl::nl {

int nlErrno(int nlerr) {
  switch (std::abs(nlerr)) {
    case 0: return 0;
    case NLE_OBJ_NOTFOUND: return ENOENT;
    case NLE_NODEV: return ENODEV;
    case NLE_EXIST: return EEXIST;
    case NLE_BUSY: return EBUSY;
    case NLE_PERM: return EPERM;
    case NLE_NOACCESS: return EACCES;
    case NLE_INVAL: return EINVAL;
    case NLE_NOADDR: return EADDRNOTAVAIL;
    case NLE_NOMEM: return ENOMEM;
    case NLE_AGAIN: return EAGAIN;
    case NLE_INTR: return EINTR;
    case NLE_RANGE: return ERANGE;
    case NLE_OPNOTSUPP: return EOPNOTSUPP;
    case NLE_AF_NOSUPPORT: return EAFNOSUPPORT;
    default: return EIO;
  }
}

bool nlAbsent(int nlerr) {
  int e = std::abs(nlerr);
  return e == NLE_OBJ_NOTFOUND || e == NLE_NODEV || e == NLE_NOADDR;
}

Error nlError(int nlerr, std::string what) {
  Error e;
  e.code = Code::Internal;
  e.details = nl_geterror(nlerr);
  e.msg = std::move(what) + ": " + e.details;
  e.sysErrno = nlErrno(nlerr);
  return e;
}

}  // namespace ovl::nl
