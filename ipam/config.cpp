#include "ipam/config.hpp"
#include "util/file.hpp"

#include <sys/socket.h>

#include <algorithm>

namespace ovl::ipam {
namespace {

std::unexpected<Error> bad(const std::string& field, const std::string& what) {
  return fail(Code::InvalidConfig, "field '" + field + "' " + what);
}

std::string familyName(int family) { return family == AF_INET ? "IPv4" : "IPv6"; }

// An endpoint must be a host address of the subnet: not the network address, nor the IPv4 broadcast.
Result<void> checkEndpoint(const IpNet& subnet, const IpAddr& a, const std::string& field) {
  if (!subnet.contains(a)) return bad(field, a.str() + " is outside subnet " + subnet.str());
  if (a == subnet.network()) return bad(field, a.str() + " is the network address of " + subnet.str());
  if (a.isV4() && a == subnet.broadcast()) return bad(field, a.str() + " is the broadcast address of " + subnet.str());
  return {};
}

Result<Range> parseRange(const json::Value& v, const std::string& path) {
  if (!v.IsObject()) return fail(Code::InvalidConfig, "field '" + path + "' must be an object");
  Range r;
  r.path = path;
  auto subnet = TRY(json::optNet(v, "subnet", path));
  std::string sf = json::join(path, "subnet");
  if (!subnet) return bad(sf, "is required");
  int bits = subnet->addr().bits();
  if (subnet->prefix() > bits - 2) return bad(sf, subnet->str() + " is too small to allocate from");
  if (subnet->addr() != subnet->network())
    return bad(sf, subnet->str() + " has host bits set (the network is " + subnet->masked().str() + ")");
  r.subnet = *subnet;
  auto sameFamily = [&](const IpAddr& a, const std::string& field) -> Result<void> {
    if (a.family() != r.subnet.family())
      return bad(field, a.str() + " is " + familyName(a.family()) + " but subnet " + r.subnet.str() + " is " +
                            familyName(r.subnet.family()));
    return {};
  };
  std::string gf = json::join(path, "gateway");
  if (auto gw = TRY(json::optIp(v, "gateway", path))) {
    TRY_VOID(sameFamily(*gw, gf));
    if (!r.subnet.contains(*gw)) return bad(gf, gw->str() + " is outside subnet " + r.subnet.str());
    r.gateway = *gw;
  } else {
    r.gateway = r.subnet.network().next();
  }
  std::string startF = json::join(path, "rangeStart"), endF = json::join(path, "rangeEnd");
  if (auto s = TRY(json::optIp(v, "rangeStart", path))) {
    TRY_VOID(sameFamily(*s, startF));
    TRY_VOID(checkEndpoint(r.subnet, *s, startF));
    r.start = *s;
  } else {
    r.start = r.subnet.network().next();
  }
  if (auto e = TRY(json::optIp(v, "rangeEnd", path))) {
    TRY_VOID(sameFamily(*e, endF));
    TRY_VOID(checkEndpoint(r.subnet, *e, endF));
    r.end = *e;
  } else {
    // host-local: the last address, less the broadcast for IPv4.
    r.end = r.subnet.broadcast();
    if (r.end.isV4()) r.end = r.end.prev();
  }
  if (r.start > r.end) return bad(startF, r.start.str() + " is after rangeEnd " + r.end.str());
  return r;
}

std::string span(const Range& r) { return "(" + r.start.str() + "-" + r.end.str() + ")"; }
std::string describe(const Range& r) { return "'" + r.path + "' " + span(r); }

Result<void> checkSet(const RangeSet& set, const std::string& setPath) {
  const Range& first = set.ranges.front();
  for (size_t i = 1; i < set.ranges.size(); ++i) {
    const Range& r = set.ranges[i];
    if (r.subnet.family() != first.subnet.family())
      return bad(json::join(r.path, "subnet"), r.subnet.str() + " is " + familyName(r.subnet.family()) +
                                                   " but range set '" + setPath + "' is " +
                                                   familyName(first.subnet.family()) + " (one address per range set)");
    for (size_t j = 0; j < i; ++j)
      if (r.overlaps(set.ranges[j])) return bad(r.path, span(r) + " overlaps " + describe(set.ranges[j]));
  }
  return {};
}

Result<std::vector<RangeSet>> parseRanges(const json::Value& ipam) {
  std::vector<RangeSet> sets;
  std::vector<std::string> setPaths;
  if (json::member(ipam, "subnet")) {
    RangeSet legacy;
    legacy.ranges.push_back(TRY(parseRange(ipam, "ipam")));
    sets.push_back(std::move(legacy));
    setPaths.emplace_back("ipam");
  } else {
    for (const char* k : {"rangeStart", "rangeEnd", "gateway"})
      if (json::member(ipam, k)) return bad(std::string("ipam.") + k, "needs 'ipam.subnet' (or use 'ipam.ranges')");
  }
  if (const auto* rs = json::member(ipam, "ranges")) {
    if (!rs->IsArray()) return fail(Code::InvalidConfig, "field 'ipam.ranges' must be a list of range sets");
    for (size_t i = 0; i < rs->Size(); ++i) {
      std::string sp = json::index("ipam.ranges", i);
      const auto& sv = (*rs)[rapidjson::SizeType(i)];
      if (!sv.IsArray()) return fail(Code::InvalidConfig, "field '" + sp + "' must be a list of ranges");
      if (sv.Empty()) return fail(Code::InvalidConfig, "field '" + sp + "' must not be empty");
      RangeSet set;
      for (size_t j = 0; j < sv.Size(); ++j)
        set.ranges.push_back(TRY(parseRange(sv[rapidjson::SizeType(j)], json::index(sp, j))));
      TRY_VOID(checkSet(set, sp));
      sets.push_back(std::move(set));
      setPaths.push_back(sp);
    }
  }
  if (sets.empty()) return fail(Code::InvalidConfig, "field 'ipam.ranges' is required (or the legacy 'ipam.subnet')");
  for (size_t i = 1; i < sets.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      for (const auto& a : sets[i].ranges)
        for (const auto& b : sets[j].ranges)
          if (a.overlaps(b)) return bad(a.path, span(a) + " overlaps " + describe(b));
  return sets;
}

Result<std::vector<cni::Route>> parseRoutes(const json::Value& ipam) {
  std::vector<cni::Route> out;
  const auto* rs = json::member(ipam, "routes");
  if (!rs) return out;
  if (!rs->IsArray()) return fail(Code::InvalidConfig, "field 'ipam.routes' must be a list");
  for (size_t i = 0; i < rs->Size(); ++i) {
    std::string p = json::index("ipam.routes", i);
    const auto& v = (*rs)[rapidjson::SizeType(i)];
    if (!v.IsObject()) return fail(Code::InvalidConfig, "field '" + p + "' must be an object");
    cni::Route r;
    auto dst = TRY(json::optNet(v, "dst", p));
    if (!dst) return bad(json::join(p, "dst"), "is required");
    r.dst = *dst;
    r.gw = TRY(json::optIp(v, "gw", p));
    if (r.gw && r.gw->family() != r.dst.family())
      return bad(json::join(p, "gw"), r.gw->str() + " is not of the same family as " + r.dst.str());
    out.push_back(std::move(r));
  }
  return out;
}

Result<void> addRequested(std::vector<IpAddr>& out, std::string_view text, const std::string& what, Code code) {
  std::string_view s = text;
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  auto net = IpNet::parse(s, false);
  if (!net) return fail(code, what + " '" + std::string(text) + "' is not an IP address");
  if (std::find(out.begin(), out.end(), net->addr()) == out.end()) out.push_back(net->addr());
  return {};
}

Result<void> addRequestedArray(std::vector<IpAddr>& out, const json::Value* v, const std::string& path) {
  if (!v) return {};
  if (!v->IsArray()) return fail(Code::InvalidConfig, "field '" + path + "' must be a list of addresses");
  for (size_t i = 0; i < v->Size(); ++i) {
    const auto& e = (*v)[rapidjson::SizeType(i)];
    std::string p = json::index(path, i);
    if (!e.IsString()) return fail(Code::InvalidConfig, "field '" + p + "' must be a string");
    TRY_VOID(addRequested(out, std::string_view(e.GetString(), e.GetStringLength()), "field '" + p + "'",
                          Code::InvalidConfig));
  }
  return {};
}

}  // namespace

Result<IpamConf> parseIpamConf(const cni::NetConf& net, const kv::NodeConfig& node, Need need) {
  if (!net.ipam) return fail(Code::InvalidConfig, "field 'ipam' is required");
  const json::Value& ipam = *net.ipam;
  IpamConf c;
  c.pool = TRY(json::optString(ipam, "pool", "ipam")).value_or(net.name);
  if (!isValidIdentifier(c.pool))
    return bad("ipam.pool", "'" + c.pool + "' is not a valid pool name (letters, digits, '_', '.', '-')");
  // host-local's default, unless the node config gives this host its own state directory (simulated
  // hosts sharing one filesystem, or an operator keeping all our state in one place).
  const std::string defaultDataDir =
      node.stateDir && !node.stateDir->empty() ? *node.stateDir + "/networks" : std::string(kDefaultDataDir);
  c.dataDir = TRY(json::optString(ipam, "dataDir", "ipam")).value_or(defaultDataDir);
  if (c.dataDir.empty()) return bad("ipam.dataDir", "must not be empty");
  c.resolvConf = TRY(json::optString(ipam, "resolvConf", "ipam")).value_or("");
  c.store = TRY(kv::resolveStore(&ipam, "ipam", node, /*nodeByDefault=*/false));
  if (node.stateDir && !node.stateDir->empty()) c.stateDir = c.hostStateDir = *node.stateDir;
  c.host = kv::hostIdentity(node);
  if (need == Need::Ranges) {
    c.rangeSets = TRY(parseRanges(ipam));
    c.routes = TRY(parseRoutes(ipam));
  }
  return c;
}

Result<std::vector<IpAddr>> requestedIps(const std::optional<std::string>& cniArgsIp, const cni::NetConf& net) {
  std::vector<IpAddr> out;
  if (cniArgsIp) {
    std::string_view rest = *cniArgsIp;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      TRY_VOID(addRequested(out, rest.substr(0, comma), "CNI_ARGS IP", Code::InvalidEnv));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  if (net.args)
    if (const auto* cniObj = json::member(*net.args, "cni"))
      TRY_VOID(addRequestedArray(out, json::member(*cniObj, "ips"), "args.cni.ips"));
  TRY_VOID(addRequestedArray(out, net.runtime("ips"), "runtimeConfig.ips"));
  return out;
}

Result<cni::Dns> readResolvConf(const std::string& path) {
  auto text = readSmallFile(path);
  if (!text || !*text) {
    Error e = sysError(text ? ENOENT : text.error().sysErrno, "reading field 'ipam.resolvConf' " + path);
    e.code = Code::InvalidConfig;
    return fail(std::move(e));
  }
  cni::Dns dns;
  std::string_view rest = **text;
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    const auto fields = fieldsOf(line);
    if (fields.empty() || fields[0][0] == '#' || fields[0][0] == ';') continue;
    const std::string key(fields[0]);
    const std::vector<std::string> values(fields.begin() + 1, fields.end());
    if (values.empty()) continue;
    if (key == "nameserver")
      dns.nameservers.push_back(values[0]);
    else if (key == "domain")
      dns.domain = values[0];
    else if (key == "search")
      dns.search.insert(dns.search.end(), values.begin(), values.end());
    else if (key == "options")
      dns.options.insert(dns.options.end(), values.begin(), values.end());
  }
  return dns;
}

}  // namespace ovl::ipam
