// overlayctl: inspect and manage overlay networks cluster-wide (Consul) and diagnose this host.
#include <iostream>
#include <string_view>
#include <vector>

#include "overlayctl/cli.hpp"
#include "overlayctl/commands.hpp"
#include "util/build_version.hpp"
#include "util/log.hpp"

namespace {

constexpr const char* kUsage =
    "Usage: overlayctl [GLOBAL OPTIONS] COMMAND [OPTIONS]\n\n"
    "Commands:\n"
    "  network create NAME    define a network cluster-wide and print (or --install) its conflist\n"
    "  network conflist NAME  print (or --install) the conflist of an existing network, on any host\n"
    "  network ls             list networks\n"
    "  network inspect NAME   show a network as JSON: definition, hosts, attachments, leases\n"
    "  network rm NAME        delete a network's definition (refused while containers are attached)\n"
    "  hosts                  list hosts known to the store, and whether their watcher runs\n"
    "  hosts evict HOST       remove a dead host's records (refused while its watcher runs)\n"
    "  leases [NAME]          list IP leases\n"
    "  diag [NAME]            compare the store with this host's kernel state; --fix repairs\n"
    "  top                    each host's call counts, latencies and network figures from its watcher\n\n"
    "Global options, before or after the command: --store URL (else CONSUL_HTTP_ADDR, else the node config\n"
    "$OVL_NODE_CONFIG or /etc/cni/overlay-node.json), --json, --help, --version.\n"
    "Run 'overlayctl COMMAND --help' for details.\n";

// The command whose --help a usage error suggests: "network create ", "hosts ", or "".
std::string helpWhere(const std::vector<std::string>& words) {
  std::string_view cmd = words.empty() ? "" : words[0];
  if (cmd == "hosts" || cmd == "leases" || cmd == "diag" || cmd == "top") return std::string(cmd) + " ";
  if (cmd != "network") return "";
  std::string_view sub = words.size() > 1 ? words[1] : "";
  for (std::string_view s : {"create", "conflist", "ls", "inspect", "rm"})
    if (sub == s) return "network " + std::string(sub) + " ";
  return "network ";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ovl::ctl;
  ovl::log::init("overlayctl");
  ovl::log::setLevel(ovl::log::Level::Warn);
  auto line = hoistGlobals(Argv(argv + 1, size_t(argc - 1)));
  std::vector<std::string> words = line ? line->words : std::vector<std::string>{};
  ovl::Result<int> r = 0;
  if (!line) {
    r = std::unexpected(line.error());
  } else if (line->version) {
    std::cout << "overlayctl " << ovl::buildVersion() << "\n";
    return 0;
  } else if (line->help || words.empty()) {
    std::cout << kUsage;
    return line->help ? 0 : kExitUsage;
  } else {
    std::vector<char*> ptrs;
    for (auto& w : words) ptrs.push_back(w.data());
    std::string_view cmd = words[0];
    Argv rest(ptrs.data() + 1, ptrs.size() - 1);
    r = cmd == "network" ? networkCmd(rest)
        : cmd == "hosts" ? hostsCmd(rest)
        : cmd == "leases" ? leasesCmd(rest)
        : cmd == "diag"   ? diagCmd(rest)
        : cmd == "top"    ? topCmd(rest)
                          : usage("unknown command '" + std::string(cmd) + "'");
  }
  if (r) return *r;
  // One line, also for usage errors.
  std::cerr << "overlayctl: " << r.error().msg;
  if (isUsage(r.error())) std::cerr << " (run 'overlayctl " << helpWhere(words) << "--help' for usage)";
  else if (!r.error().details.empty()) std::cerr << " (" << r.error().details << ")";
  std::cerr << "\n";
  return isUsage(r.error()) ? kExitUsage : kExitFailure;
}
