#include "cni/by_hand.hpp"

#include "cni/version.hpp"
#include "util/build_version.hpp"

namespace ovl::cni {
namespace {

std::string usageText(const Plugin& p) {
  std::string versions;
  for (auto v : kSupportedVersions) versions += (versions.empty() ? "" : ", ") + std::string(v);
  std::string u = "Usage: " + p.name + " [--help | --version]\n";
  for (const auto& line : p.moreUsage) u += "       " + line + "\n";
  u += "\n" + p.summary + "\n\n";
  u += "A CNI plugin: a container runtime runs it with the verb in CNI_COMMAND (ADD, DEL, CHECK, VERSION,\n"
       "STATUS, GC), the other CNI_* variables in the environment and the network configuration on stdin,\n"
       "and reads the result (or the error) as JSON on stdout. CNI versions: " + versions + ".\n"
       "Node config: $OVL_NODE_CONFIG, default /etc/cni/overlay-node.json.\n\n"
       "  -h, --help     print this text\n"
       "      --version  print the version\n";
  return u;
}

}  // namespace

std::string versionLine(std::string_view binary) {
  std::string versions;
  for (auto v : kSupportedVersions) versions += (versions.empty() ? "" : ", ") + std::string(v);
  return std::string(binary) + " " + std::string(buildVersion()) + " (CNI " + versions + ")\n";
}

std::optional<HandOutcome> runByHand(const Plugin& p, const EnvLookup& env, std::span<const std::string_view> args) {
  if (args.empty()) return std::nullopt;
  if (auto c = env("CNI_COMMAND"); c && !c->empty()) return std::nullopt;
  const std::string_view a = args[0];
  if (a == "--help" || a == "-h") return HandOutcome{0, usageText(p), ""};
  if (a == "--version") return HandOutcome{0, versionLine(p.name), ""};
  return HandOutcome{2, "",
                     p.name + ": unknown argument '" + std::string(a) + "' (CNI_COMMAND is not set; try --help)\n"};
}

}  // namespace ovl::cni
