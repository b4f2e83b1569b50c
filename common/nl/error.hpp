// Turning libnl's negative NLE_* codes into ovl::Error.
#pragma once

#include <string>

#include "util/error.hpp"

namespace ovl::nl {

// nlerr: a libnl return value (-NLE_* or NLE_*). what names the object and the action, e.g.
// "creating vxlan 'ovx-42' (vni 42)". The error's sysErrno is the errno libnl folded into that code
// (NLE_OBJ_NOTFOUND -> ENOENT, NLE_NODEV -> ENODEV, NLE_EXIST -> EEXIST, ... others EIO), so
// Error::notFound() works on it.
Error nlError(int nlerr, std::string what);

// The errno libnl's nl_syserr2nlerr() most likely started from; EIO when there is no good match.
int nlErrno(int nlerr);

// True for "the object does not exist" answers: no such object, device, or address.
bool nlAbsent(int nlerr);

}  // namespace ovl::nl
