// overlayctl's commands. Each takes the words after its name and returns the exit code, or an error
// that main() prints (usage errors exit 2).
#pragma once

#include <span>
#include <string>

#include "util/error.hpp"

namespace ovl::ctl {

using Argv = std::span<char* const>;

Result<int> networkCmd(Argv argv);  // network create|ls|inspect|rm
Result<int> hostsCmd(Argv argv);
Result<int> leasesCmd(Argv argv);
Result<int> diagCmd(Argv argv);
Result<int> topCmd(Argv argv);  // the watchers' metrics endpoints

struct Args;
Result<int> evictHost(const Args& a, const std::string& host);  // hosts evict HOST

}  // namespace ovl::ctl
