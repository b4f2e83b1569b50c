#include "gwbridge/config.hpp"

#include <cctype>

namespace ovl::gwbridge {
namespace {

Result<bool> flag(const json::Value& root, std::string_view key, bool dflt) {
  auto v = TRY(json::optBool(root, key, ""));
  return v.value_or(dflt);
}

Result<std::string> ifNameKey(const json::Value& root, std::string_view key, std::string_view dflt) {
  auto v = TRY(json::optString(root, key, ""));
  std::string name = v.value_or(std::string(dflt));
  if (!isSafeIfName(name))
    return fail(Code::InvalidConfig, "field '" + std::string(key) + "' '" + name +
                                         "' must be an interface name of 1 to 15 characters from [A-Za-z0-9_.-]");
  return name;
}

// Our stdin with "ipam" replaced by the default section.
std::string withDefaultIpam(const json::Value& root, std::string_view bridge) {
  json::Doc d;
  d.CopyFrom(root, d.GetAllocator());
  d.RemoveMember("ipam");
  json::Doc ipam;
  ipam.Parse(defaultIpamJson(bridge).c_str());
  json::Value v;
  v.CopyFrom(ipam, d.GetAllocator());
  d.AddMember("ipam", v, d.GetAllocator());
  return json::toString(d);
}

}  // namespace

bool isChained(const cni::NetConf& conf) { return conf.prevResult && !conf.prevResult->interfaces.empty(); }

cni::CmdArgs ipamArgs(const cni::CmdArgs& args, const cni::NetConf& conf) {
  if (!args.args.get("IP") || !(isChained(conf) || args.command == "DEL")) return args;
  cni::CmdArgs out = args;
  out.args.values.erase("IP");
  out.argsText.clear();
  std::string_view rest = args.argsText;
  while (!rest.empty()) {
    size_t semi = rest.find(';');
    std::string_view kv = rest.substr(0, semi);
    if (!kv.empty() && !kv.starts_with("IP=")) out.argsText += (out.argsText.empty() ? "" : ";") + std::string(kv);
    if (semi == std::string_view::npos) break;
    rest.remove_prefix(semi + 1);
  }
  return out;
}

std::string defaultIpamJson(std::string_view bridge) {
  rapidjson::StringBuffer sb;
  json::Writer w(sb);
  w.StartObject();
  json::key(w, "type");
  json::str(w, kDefaultIpamType);
  json::key(w, "subnet");
  json::str(w, kDefaultSubnet);
  json::key(w, "pool");
  json::str(w, bridge);
  json::key(w, "store");
  json::str(w, "local");
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

std::string defaultChainedIfName(std::string_view cniIfName) {
  return (std::string(kChainedIfNamePrefix) + std::string(cniIfName)).substr(0, 15);
}

Result<GwConf> parseGwConf(const cni::NetConf& conf, std::string_view stdinData, bool lenientPorts) {
  const json::Value& root = conf.root();
  GwConf c;
  c.bridge = TRY(ifNameKey(root, "bridge", kDefaultBridge));
  if (json::member(root, "ifName")) c.ifName = TRY(ifNameKey(root, "ifName", ""));
  c.mtu = unsigned(TRY(json::optInt(root, "mtu", "", 68, 65535)).value_or(0));
  c.defaultRoute = TRY(flag(root, "defaultRoute", true));
  c.ipMasq = TRY(flag(root, "ipMasq", true));
  c.icc = TRY(flag(root, "icc", false));
  c.hairpin = TRY(flag(root, "hairpin", true));

  if (conf.ipam) {
    if (conf.ipamType.empty()) return fail(Code::InvalidConfig, "field 'ipam.type' is required");
    c.ipamType = conf.ipamType;
    c.ipamStdin = std::string(stdinData);
    auto pool = TRY(json::optString(*conf.ipam, "pool", "ipam"));
    c.sharedPool = pool && *pool != conf.name;
  } else {
    c.ipamType = std::string(kDefaultIpamType);
    c.ipamStdin = withDefaultIpam(root, c.bridge);
    c.defaultIpam = true;
    c.sharedPool = true;
  }
  auto ports = parsePortMappings(conf.runtime("portMappings"), "runtimeConfig.portMappings");
  if (ports)
    c.portMappings = std::move(*ports);
  else if (!lenientPorts)
    return fail(std::move(ports.error()));
  return c;
}

}  // namespace ovl::gwbridge
