// overlayctl network create | conflist | ls | inspect | rm
#include <algorithm>
#include <iostream>
#include <set>

#include "model/cluster.hpp"
#include "model/health.hpp"
#include "model/network.hpp"
#include "overlayctl/cli.hpp"
#include "overlayctl/commands.hpp"
#include "overlayctl/conflist.hpp"
#include "overlayctl/default_pool.hpp"
#include "overlayctl/snapshot.hpp"

namespace ovl::ctl {
namespace {

const Help kNetworkHelp{"overlayctl network create|conflist|ls|inspect|rm ...",
                        "Subcommands:\n"
                        "  create NAME [--subnet CIDR]... [--gateway IP]... [--ip-range CIDR]... [--vni N] [--install DIR]\n"
                        "         [--no-gwbridge]\n"
                        "  conflist NAME [--install DIR] [--no-gwbridge]\n"
                        "  ls\n"
                        "  inspect NAME...\n"
                        "  rm NAME [--force]\n"
                        "Run 'overlayctl network SUBCOMMAND --help' for details.\n"};

const Help kCreateHelp{
    "overlayctl network create NAME [--subnet CIDR]... [--gateway IP]... [--ip-range CIDR]... [--vni N] [--install DIR]\n"
    "                                [--no-gwbridge]",
    "Records the network's definition in the store once, for the whole cluster, and prints a conflist\n"
    "that refers to the network by name only (the plugins read the definition from the store). Every host\n"
    "that runs containers of the network needs that conflist: 'overlayctl network conflist NAME --install\n"
    "DIR' writes it there. It chains overlay (capabilities ips, mac, aliases) and gwbridge (NAT, published\n"
    "ports), and works unchanged with podman, containerd and CRI-O.\n\n"
    "  --subnet CIDR    an address range of the network (repeat for several, e.g. IPv4 and IPv6); default,\n"
    "                   as Docker: the first /24 of 10.0.0.0/8 (10.0.0.0/24, 10.0.1.0/24, ...) that no other\n"
    "                   network uses, or of the node config's \"defaultAddressPools\"\n"
    "  --gateway IP     the gateway of the subnet given at the same position (default: its first address)\n"
    "  --ip-range CIDR  allocate container addresses only from this part of the subnet at the same position\n"
    "  --vni N          the VXLAN network identifier (default: allocated cluster-wide)\n"
    "  --install DIR    write the conflist to DIR/NAME.conflist instead of printing it\n"
    "  --no-gwbridge    a conflist with the overlay alone (no NAT to the outside, no published ports)\n"
    "  --json           print {\"network\": definition, \"conflist\": ...}\n"};

const Help kConflistHelp{"overlayctl network conflist NAME [--install DIR] [--no-gwbridge]",
                         "Prints the conflist of a network defined in the store (by 'network create' on any host),\n"
                         "the same one 'network create' printed: run it on every host of the network.\n\n"
                         "  --install DIR    write it to DIR/NAME.conflist (e.g. /etc/cni/net.d) instead of printing it\n"
                         "  --no-gwbridge    the overlay alone (no NAT to the outside, no published ports)\n"};

const Help kLsHelp{"overlayctl network ls [--json]",
                   "Lists the networks of the cluster: name, VNI, subnets, scope, number of member hosts and of\n"
                   "attached containers.\n"};

const Help kInspectHelp{"overlayctl network inspect NAME...",
                        "Prints a JSON array with, for each network: its definition, member hosts with their VTEP\n"
                        "addresses, every attachment (container ID, its names: container name and aliases, ifname,\n"
                        "host, IPs, MAC) and its leases.\n"};

const Help kRmHelp{"overlayctl network rm NAME [--force]",
                   "Deletes the network's definition, VNI reservation, membership records and leases (in the\n"
                   "pool its IPAM config names; a pool shared with other networks keeps their leases).\n"
                   "Refused while containers are attached, unless --force (their records and leases are then\n"
                   "deleted too; the containers keep their interfaces until their runtime removes them).\n"};

Result<void> validateName(const std::string& name) {
  if (!isValidIdentifier(name))
    return usage("network name '" + name + "' is invalid: use letters, digits, '_', '.', '-' (not first)");
  return {};
}

// The subnets from --subnet/--gateway/--ip-range, matched by position.
Result<std::vector<model::SubnetDef>> subnetsFromArgs(const Args& a) {
  auto subnets = a.all("--subnet"), gateways = a.all("--gateway"), ranges = a.all("--ip-range");
  if (gateways.size() > subnets.size()) return usage("--gateway given without a --subnet for it");
  if (ranges.size() > subnets.size()) return usage("--ip-range given without a --subnet for it");
  std::vector<model::SubnetDef> out;
  for (size_t i = 0; i < subnets.size(); ++i) {
    auto gw = i < gateways.size() ? std::optional<std::string_view>(gateways[i]) : std::nullopt;
    auto ir = i < ranges.size() ? std::optional<std::string_view>(ranges[i]) : std::nullopt;
    auto s = model::makeSubnetDef(subnets[i], gw, ir);
    if (!s) return usage(s.error().msg);
    out.push_back(*s);
  }
  return out;
}

// Another network whose subnets overlap `s`, if any.
std::optional<std::string> overlapping(const Snapshot& snap, const std::string& self, const model::SubnetDef& s) {
  for (const auto& [name, n] : snap.nets) {
    if (name == self || !n.def) continue;
    for (const auto& o : n.def->subnets)
      if (o.subnet.overlaps(s.subnet)) return name + " (" + o.subnet.str() + ")";
  }
  return std::nullopt;
}

// Docker's choice (overlayctl/default_pool.hpp): the first subnet of the pools no other network overlaps.
Result<model::SubnetDef> defaultSubnet(const Snapshot& snap, const std::string& self,
                                       const std::vector<AddressPool>& pools) {
  std::vector<IpNet> used;
  for (const auto& [name, n] : snap.nets)
    if (name != self && n.def)
      for (const auto& o : n.def->subnets) used.push_back(o.subnet);
  if (auto s = chooseDefaultSubnet(pools, used)) return model::makeSubnetDef(s->str(), std::nullopt, std::nullopt);
  std::vector<std::string> names;
  for (const auto& p : pools) names.push_back(p.base.str() + " in /" + std::to_string(p.size) + "s");
  return fail(Code::PoolExhausted, "no free subnet left in the default pools (" + join(names, ", ") + "): give --subnet");
}

ConflistOptions conflistOptions(const Args& a) { return ConflistOptions{.gwbridge = !a.has("--no-gwbridge")}; }

std::vector<std::string> subnetStrings(const model::NetworkDef& d) {
  std::vector<std::string> v;
  for (const auto& s : d.subnets) v.push_back(s.subnet.str());
  return v;
}

void writeDefinition(JsonOut& w, const model::NetworkDef& d) {
  key(w, "name"); str(w, d.name);
  key(w, "vni"); w.Uint(d.vni);
  key(w, "scope"); str(w, d.scope);
  key(w, "subnets");
  w.StartArray();
  for (const auto& s : d.subnets) {
    w.StartObject();
    key(w, "subnet"); str(w, s.subnet.str());
    if (s.gateway) { key(w, "gateway"); str(w, s.gateway->str()); }
    if (s.ipRange) { key(w, "ipRange"); str(w, s.ipRange->str()); }
    w.EndObject();
  }
  w.EndArray();
  key(w, "created"); str(w, d.created);
}

Result<int> create(Argv argv) {
  auto a = TRY(parseArgs(argv, {{"--subnet", true, true}, {"--gateway", true, true}, {"--ip-range", true, true},
                                {"--vni", true, false}, {"--install", true, false}, {"--no-gwbridge", false, false}}));
  if (a.has("--help")) return (printHelp(kCreateHelp), 0);
  if (a.positional.size() != 1) return usage("network create needs exactly one NAME");
  const std::string name = a.positional[0];
  TRY_VOID(validateName(name));
  std::optional<uint32_t> wantVni;
  if (auto v = a.value("--vni")) {
    char* end = nullptr;
    unsigned long n = std::strtoul(v->c_str(), &end, 10);
    if (v->empty() || *end || n < 1 || n > model::kMaxVni) return usage("--vni '" + *v + "' is not a number in 1..16777215");
    wantVni = uint32_t(n);
  }
  auto subnets = TRY(subnetsFromArgs(a));
  auto ctx = TRY(makeContext(a));
  const auto pools = TRY(addressPoolsOf(ctx.node.doc.get(), "node config " + ctx.node.path));
  if (wantVni) TRY_VOID(model::refuseHealthVni(*wantVni, ctx.node, "--vni"));

  auto cluster = TRY(model::Cluster::connect(ctx.store.consul));
  auto snap = TRY(readSnapshot(cluster.kv()));
  if (const NetView* n = snap.net(name); n && n->def && !n->def->subnets.empty())
    return fail(Code::InvalidConfig, "network '" + name + "' already exists (vni " + std::to_string(n->def->vni) +
                                         ", " + join(subnetStrings(*n->def), ",") + ")");
  if (subnets.empty()) subnets.push_back(TRY(defaultSubnet(snap, name, pools)));
  for (const auto& s : subnets)
    if (auto other = overlapping(snap, name, s))
      return fail(Code::InvalidConfig, "subnet " + s.subnet.str() + " overlaps network " + *other);

  auto state = TRY(cluster.readNetwork(name));
  model::NetworkDef def;
  def.name = name;
  def.vni = TRY(cluster.ensureVni(name, wantVni, state));
  def.subnets = subnets;
  def.created = nowIso();
  // ensureVni wrote {"vni","scope"} (or a plugin did earlier): complete it, only if nobody else did.
  auto& kv = cluster.kv();
  const std::string cfgKey = cluster.keys().networkConfig(name);
  auto cur = TRY(kv.get(cfgKey));
  if (!cur) return fail(Code::TryAgainLater, "network '" + name + "' vanished while being created (removed concurrently?)");
  if (auto existing = model::parseDefinition(name, cur->value); existing && !existing->subnets.empty())
    return fail(Code::InvalidConfig, "network '" + name + "' already exists (created concurrently)");
  if (!TRY(kv.cas(cfgKey, model::definitionJson(def), cur->modifyIndex)))
    return fail(Code::TryAgainLater, "network '" + name + "' changed while being created: retry");

  const std::string conflist = nameOnlyConflist(name, conflistOptions(a));
  if (auto dir = a.value("--install")) TRY_VOID(installConflist(*dir, name, conflist));
  if (ctx.json) {
    rapidjson::StringBuffer sb;
    JsonOut w(sb);
    w.StartObject();
    key(w, "network");
    w.StartObject();
    writeDefinition(w, def);
    w.EndObject();
    key(w, "conflist");
    w.RawValue(conflist.c_str(), conflist.size() - 1, rapidjson::kObjectType);
    w.EndObject();
    printJson(sb);
  } else if (!a.has("--install")) {
    std::cout << conflist;
  }
  return 0;
}

Result<int> conflist(Argv argv) {
  auto a = TRY(parseArgs(argv, {{"--install", true, false}, {"--no-gwbridge", false, false}}));
  if (a.has("--help")) return (printHelp(kConflistHelp), 0);
  if (a.positional.size() != 1) return usage("network conflist needs exactly one NAME");
  const std::string name = a.positional[0];
  TRY_VOID(validateName(name));
  auto ctx = TRY(makeContext(a));
  auto kv = TRY(connect(ctx));
  auto snap = TRY(readSnapshot(kv));
  if (auto known = requireNetwork(snap, name); !known) return fail(known.error());
  const std::string text = nameOnlyConflist(name, conflistOptions(a));
  if (auto dir = a.value("--install")) TRY_VOID(installConflist(*dir, name, text));
  else std::cout << text;
  return 0;
}

Result<int> ls(Argv argv) {
  auto a = TRY(parseArgs(argv, {}));
  if (a.has("--help")) return (printHelp(kLsHelp), 0);
  if (!a.positional.empty()) return usage("network ls takes no arguments");
  auto ctx = TRY(makeContext(a));
  auto kv = TRY(connect(ctx));
  auto snap = TRY(readSnapshot(kv));
  rapidjson::StringBuffer sb;
  JsonOut w(sb);
  w.StartArray();
  Table t({"NAME", "VNI", "SUBNETS", "SCOPE", "HOSTS", "CONTAINERS"});
  for (const auto& [name, n] : snap.nets) {
    if (!n.def) continue;
    std::set<std::string> containers;
    for (const auto* at : snap.attachmentsOf(name)) containers.insert(at->containerId);
    auto subnets = subnetStrings(*n.def);
    t.row({name, std::to_string(n.def->vni), subnets.empty() ? "-" : join(subnets, ","), n.def->scope,
           std::to_string(n.members.size()), std::to_string(containers.size())});
    w.StartObject();
    key(w, "name"); str(w, name);
    key(w, "vni"); w.Uint(n.def->vni);
    key(w, "subnets");
    w.StartArray();
    for (const auto& s : subnets) str(w, s);
    w.EndArray();
    key(w, "scope"); str(w, n.def->scope);
    key(w, "hosts"); w.Uint(unsigned(n.members.size()));
    key(w, "containers"); w.Uint(unsigned(containers.size()));
    w.EndObject();
  }
  w.EndArray();
  if (ctx.json) printJson(sb);
  else t.print();
  return 0;
}

void writeInspect(JsonOut& w, const Snapshot& snap, const std::string& name, const NetView& n) {
  w.StartObject();
  writeDefinition(w, *n.def);
  key(w, "hosts");
  w.StartArray();
  for (const auto& m : n.members) {
    w.StartObject();
    key(w, "host"); str(w, m.host);
    key(w, "vtep"); str(w, m.vtep);
    key(w, "port"); w.Uint(m.port);
    w.EndObject();
  }
  w.EndArray();
  key(w, "attachments");
  w.StartArray();
  for (const auto* at : snap.attachmentsOf(name)) {
    w.StartObject();
    key(w, "containerID"); str(w, at->containerId);
    key(w, "names");
    w.StartArray();
    for (const auto& n : at->names) str(w, n);
    w.EndArray();
    key(w, "ifname"); str(w, at->ifName);
    key(w, "host"); str(w, at->host);
    key(w, "ips");
    w.StartArray();
    for (const auto& ip : at->ips) str(w, ip);
    w.EndArray();
    key(w, "mac"); str(w, at->mac);
    key(w, "time"); str(w, isoTime(at->time));
    w.EndObject();
  }
  w.EndArray();
  key(w, "leases");
  w.StartArray();
  for (const auto* l : snap.leasesOf(name)) {
    w.StartObject();
    key(w, "ip"); str(w, l->ip);
    key(w, "containerID"); str(w, l->containerId);
    key(w, "ifname"); str(w, l->ifName);
    key(w, "host"); str(w, l->host);
    key(w, "time"); str(w, l->time);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

Result<int> inspect(Argv argv) {
  auto a = TRY(parseArgs(argv, {}));
  if (a.has("--help")) return (printHelp(kInspectHelp), 0);
  if (a.positional.empty()) return usage("network inspect needs a NAME");
  auto ctx = TRY(makeContext(a));
  auto kv = TRY(connect(ctx));
  auto snap = TRY(readSnapshot(kv));
  rapidjson::StringBuffer sb;
  JsonOut w(sb);
  w.StartArray();
  for (const auto& name : a.positional) writeInspect(w, snap, name, *TRY(requireNetwork(snap, name)));
  w.EndArray();
  printJson(sb);
  return 0;
}

// The network's leases, in whatever pool its IPAM config names (`pool`; the network's name by default). A
// pool that holds only this network's leases goes with its tree (cursors too); from a pool shared with other
// networks only this network's leases (at the index they were read at) and their owner indexes.
void appendPoolOps(std::vector<kv::TxnOp>& ops, const model::Keys& keys, const Snapshot& snap,
                   const std::string& name) {
  using Op = kv::TxnOp;
  std::set<std::string> pools{name};
  for (const auto* l : snap.leasesOfNetwork(name)) pools.insert(l->pool);
  for (const auto& pool : pools) {
    const auto all = snap.leasesOf(pool);
    const auto ours = [&](const LeaseView* l) { return l->network == name || (l->network.empty() && pool == name); };
    if (std::all_of(all.begin(), all.end(), ours)) {
      ops.push_back({Op::DeleteTree, keys.pool(pool), "", 0});
      continue;
    }
    std::set<std::string> owners;
    for (const auto* l : all) {
      if (!ours(l)) continue;
      ops.push_back({Op::DeleteCas, keys.lease(pool, l->ip), "", l->version});
      owners.insert(keys.owner(pool, l->host, l->containerId, l->ifName));
    }
    for (const auto& k : owners) ops.push_back({Op::Delete, k, "", 0});
  }
}

Result<int> rm(Argv argv) {
  auto a = TRY(parseArgs(argv, {{"--force", false, false}}));
  if (a.has("--help")) return (printHelp(kRmHelp), 0);
  if (a.positional.size() != 1) return usage("network rm needs exactly one NAME");
  const std::string name = a.positional[0];
  TRY_VOID(validateName(name));
  auto ctx = TRY(makeContext(a));
  auto kv = TRY(connect(ctx));
  auto snap = TRY(readSnapshot(kv));
  const NetView* n = TRY(requireNetwork(snap, name));
  auto attached = snap.attachmentsOf(name);
  if (!attached.empty() && !a.has("--force")) {
    std::set<std::string> where;
    for (const auto* at : attached) where.insert(describeContainer(*at) + " on " + at->host);
    return fail(Code::InvalidConfig, "network '" + name + "' has " + std::to_string(attached.size()) +
                                         " attachment(s) (" + join({where.begin(), where.end()}, ", ") +
                                         "): detach them first, or use --force");
  }
  using Op = kv::TxnOp;
  const model::Keys keys(kv.key(""));
  const std::string vniKey = keys.vni(n->def->vni);
  std::vector<Op> ops = {{Op::DeleteTree, keys.network(name), "", 0},
                         {Op::DeleteTree, keys.attachmentsOf(name), "", 0}};
  appendPoolOps(ops, keys, snap, name);
  if (auto owner = TRY(kv.get(vniKey)); owner) {
    if (auto holder = model::parseVniReservation(owner->key, owner->value); holder && holder->network == name)
      ops.push_back({Op::DeleteCas, vniKey, "", owner->modifyIndex});
  }
  auto r = TRY(kv.txn(ops));
  if (!r.committed) return fail(Code::TryAgainLater, "network '" + name + "' changed while being removed: retry");
  if (!attached.empty()) std::cerr << "removed the records of " << attached.size() << " attachment(s)\n";
  std::cout << name << "\n";
  return 0;
}

}  // namespace

Result<int> networkCmd(Argv argv) {
  if (argv.empty()) return usage("network needs a subcommand: create, conflist, ls, inspect or rm");
  std::string_view sub = argv[0];
  Argv rest = argv.subspan(1);
  if (sub == "create") return create(rest);
  if (sub == "conflist") return conflist(rest);
  if (sub == "ls" || sub == "list") return ls(rest);
  if (sub == "inspect") return inspect(rest);
  if (sub == "rm" || sub == "remove") return rm(rest);
  if (sub == "--help" || sub == "-h") return (printHelp(kNetworkHelp), 0);
  return usage("unknown network subcommand '" + std::string(sub) + "'");
}

}  // namespace ovl::ctl
