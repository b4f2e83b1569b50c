// A plugin run by a person rather than a runtime: without CNI_COMMAND in the environment, `--help` and
// `--version` answer like any command-line tool (stdout, exit 0) and any other argument is a usage error
// (one line on stderr, exit 2). With CNI_COMMAND set, arguments are ignored and the CNI protocol runs.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "cni/skel.hpp"

namespace ovl::cni {

struct HandOutcome {
  int exitCode = 0;
  std::string out;  // stdout
  std::string err;  // stderr
};

// nullopt: not run by hand (CNI_COMMAND is set, or there are no arguments): run the CNI protocol.
std::optional<HandOutcome> runByHand(const Plugin& p, const EnvLookup& env, std::span<const std::string_view> args);

// "overlay 0.1.0 (CNI 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0)"
std::string versionLine(std::string_view binary);

}  // namespace ovl::cni
