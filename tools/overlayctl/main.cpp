// overlayctl: inspect and manage overlay networks cluster-wide (Consul) and diagnose this host.
#include <cstring>
#include <iostream>
#include <string_view>

#include "overlayctl/cli.hpp"
#include "overlayctl/commands.hpp"
#include "util/log.hpp"

namespace {

constexpr const char* kUsage =
    "Usage: overlayctl COMMAND [OPTIONS]\n\n"
    "Commands:\n"
    "  network create NAME   define a network cluster-wide and print (or --install) its conflist\n"
    "  network ls            list networks\n"
    "  network inspect NAME  show a network as JSON: definition, hosts, attachments, leases\n"
    "  network rm NAME       delete a network's definition (refused while containers are attached)\n"
    "  hosts                 list hosts known to the store, and whether their watcher runs\n"
    "  hosts evict HOST      remove a dead host's records (refused while its watcher runs)\n"
    "  leases [NAME]         list IP leases\n"
    "  diag [NAME]           compare the store with this host's kernel state; --fix repairs\n"
    "  top                   each host's call counts, latencies and network figures from its watcher\n\n"
    "Global options: --store URL (else CONSUL_HTTP_ADDR, else the node config $OVL_NODE_CONFIG or\n"
    "/etc/cni/overlay-node.json), --json, --help. Run 'overlayctl COMMAND --help' for details.\n";

}  // namespace

int main(int argc, char** argv) {
  using namespace ovl::ctl;
  ovl::log::init("overlayctl");
  ovl::log::setLevel(ovl::log::Level::Warn);
  if (argc < 2 || std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h") {
    std::cout << kUsage;
    return argc < 2 ? kExitUsage : 0;
  }
  std::string_view cmd = argv[1];
  Argv rest(argv + 2, size_t(argc - 2));
  ovl::Result<int> r = cmd == "network" ? networkCmd(rest)
                       : cmd == "hosts" ? hostsCmd(rest)
                       : cmd == "leases" ? leasesCmd(rest)
                       : cmd == "diag"   ? diagCmd(rest)
                       : cmd == "top"    ? topCmd(rest)
                                         : usage("unknown command '" + std::string(cmd) + "'");
  if (r) return *r;
  std::cerr << "overlayctl: " << r.error().msg;
  if (!r.error().details.empty() && !isUsage(r.error())) std::cerr << " (" << r.error().details << ")";
  std::cerr << "\n";
  if (isUsage(r.error())) {
    std::string where;  // the command whose --help to suggest
    if (cmd == "hosts" || cmd == "leases" || cmd == "diag" || cmd == "top") where = std::string(cmd) + " ";
    if (cmd == "network") {
      where = "network ";
      std::string_view sub = argc > 2 ? argv[2] : "";
      if (sub == "create" || sub == "ls" || sub == "inspect" || sub == "rm") where += std::string(sub) + " ";
    }
    std::cerr << "Run 'overlayctl " << where << "--help' for usage.\n";
    return kExitUsage;
  }
  return kExitFailure;
}
