// sysctl access through /proc/sys. Network sysctls resolve against the calling thread's current network
// namespace at open time, so call these inside a ScopedNetns to configure a container.
#pragma once

#include <string>
#include <string_view>

#include "util/error.hpp"
#include "util/unique_fd.hpp"

namespace ovl::ns {

// key: "net/ipv4/ip_forward" or "net.ipv4.ip_forward" (dots become slashes only when the key has no '/';
// use the slash form for interface names containing dots). Allowed characters [a-zA-Z0-9_./-], no "..".
// Errors carry sysErrno (ENOENT for an unknown key, so notFound() is true).
Result<void> writeSysctl(std::string_view key, std::string_view value);
// The value with trailing newlines removed.
Result<std::string> readSysctl(std::string_view key);

// "/proc/sys/..." for a valid key, or an error (Code::InvalidConfig) naming it.
Result<std::string> sysctlPath(std::string_view key);

// One /proc/sys directory (e.g. "net/ipv6/conf/veth1a2b"), opened once, the files in it then opened
// relative to it. Every network namespace has its own "net", "ipv6", "conf" ... directories there, all
// under the same parent dentries, so each level of a walk from /proc/sys compares its name against that
// level of every namespace on the machine: several settings of one device cost one such walk this way.
// Resolves in the calling thread's network namespace, like the functions above.
class SysctlDir {
 public:
  // dirKey as for sysctlPath. ENOENT (notFound()) when there is no such directory.
  static Result<SysctlDir> open(std::string_view dirKey);
  // name: one file of the directory ([a-zA-Z0-9_-]).
  Result<void> write(std::string_view name, std::string_view value) const;
  Result<std::string> read(std::string_view name) const;
  const std::string& key() const { return key_; }

 private:
  SysctlDir(UniqueFd fd, std::string key) : fd_(std::move(fd)), key_(std::move(key)) {}
  UniqueFd fd_;
  std::string key_;
};

}  // namespace ovl::ns
