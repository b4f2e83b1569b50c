// The plugin skeleton: reads and validates the environment and stdin per the CNI spec, dispatches the verb,
// and is the single place that prints results and errors.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>

#include "cni/args.hpp"
#include "cni/config.hpp"
#include "cni/result.hpp"
#include "util/error.hpp"

namespace ovl::cni {

inline constexpr size_t kMaxStdin = 1 << 20;  // 1 MiB

struct CmdArgs {
  std::string command;
  std::string containerId;
  std::string netns;
  std::string ifName;
  std::string argsText;  // raw CNI_ARGS
  std::string path;      // CNI_PATH
  std::string stdinData;
  CniArgs args;
};

// What the skeleton knows of a finished call, for the metrics recorder (metrics/recorder.hpp).
struct CallReport {
  std::string_view plugin;
  std::string_view verb;  // ADD, DEL, ...; "invalid" for a missing or unknown CNI_COMMAND
  int code = 0;           // 0: success, else the CNI error code returned
  std::chrono::nanoseconds elapsed{};
};

struct Plugin {
  std::string name;
  std::vector<std::string_view> extraArgKeys;  // CNI_ARGS keys beyond the common ones
  std::function<Result<NetResult>(const CmdArgs&, const NetConf&)> add;
  std::function<Result<void>(const CmdArgs&, const NetConf&)> del;
  std::function<Result<void>(const CmdArgs&, const NetConf&)> check;
  std::function<Result<void>(const CmdArgs&, const NetConf&)> gc;
  std::function<Result<void>(const CmdArgs&, const NetConf&)> status;
  std::string summary;                 // what it does, for --help (cni/by_hand.hpp)
  std::vector<std::string> moreUsage;  // further usage lines, e.g. a subcommand
  // Called once per call after the result is known (not for unit tests' plugins): must not fail or print.
  std::function<void(const CallReport&)> report;
};

struct Outcome {
  int exitCode = 0;
  std::string out;  // what goes to stdout
};

using EnvLookup = std::function<std::optional<std::string>(std::string_view)>;

// The testable core: no process state is read or written except through `env`.
Outcome runPlugin(const Plugin& p, const EnvLookup& env, std::string_view stdinData);

// Reads the real environment and stdin, runs, prints, returns the exit code. Run by hand (no CNI_COMMAND,
// some arguments), answers --help and --version instead (cni/by_hand.hpp).
int pluginMain(const Plugin& p, int argc, char** argv);

std::string errorJson(const Error& e, std::string_view version);

}  // namespace ovl::cni
