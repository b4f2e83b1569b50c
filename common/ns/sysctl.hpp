// sysctl access through /proc/sys. Network sysctls resolve against the calling thread's current network
// namespace at open time, so call these inside a ScopedNetns to configure a container.
#pragma once

#include <string>
#include <string_view>

#include "util/error.hpp"

namespace ovl::ns {

// key: "net/ipv4/ip_forward" or "net.ipv4.ip_forward" (dots become slashes only when the key has no '/';
// use the slash form for interface names containing dots). Allowed characters [a-zA-Z0-9_./-], no "..".
// Errors carry sysErrno (ENOENT for an unknown key, so notFound() is true).
Result<void> writeSysctl(std::string_view key, std::string_view value);
// The value with trailing newlines removed.
Result<std::string> readSysctl(std::string_view key);

// "/proc/sys/..." for a valid key, or an error (Code::InvalidConfig) naming it.
Result<std::string> sysctlPath(std::string_view key);

}  // namespace ovl::ns
