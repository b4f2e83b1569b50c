#include "overlay/config.hpp"

#include "model/health.hpp"

namespace ovl::overlay {

Result<OverlayConf> parseOverlayConf(const cni::NetConf& conf, const std::optional<std::string>& argsMac,
                                     bool readMac) {
  return parseOverlayConf(conf, TRY(kv::loadNodeConfig()), argsMac, readMac);
}

Result<OverlayConf> parseOverlayConf(const cni::NetConf& conf, const kv::NodeConfig& node,
                                     const std::optional<std::string>& argsMac, bool readMac) {
  const json::Value& root = conf.root();
  OverlayConf c;
  c.network = conf.name;

  if (auto vni = TRY(json::optInt(root, "vni", "", 1, kMaxVni))) c.vni = uint32_t(*vni);
  if (c.vni) TRY_VOID(model::refuseHealthVni(*c.vni, node, "field 'vni'"));
  c.store = TRY(kv::resolveStore(&root, "", node, true));
  if (c.store.kind != kv::StoreSpec::Consul)
    return fail(Code::InvalidConfig,
                "field 'store' is not set: overlay needs a cluster store (\"consul://HOST:PORT\") in the plugin "
                "config or in the node config " + std::string(node.path.empty() ? kv::kDefaultNodeConfig : node.path));

  c.advertise = TRY(json::optString(root, "advertise", ""));
  if (!c.advertise) c.advertise = node.advertise;
  if (c.advertise && c.advertise->empty()) c.advertise.reset();
  if (c.advertise && !IpAddr::parse(*c.advertise))
    TRY_VOID(mapError(validateIfName(*c.advertise, "field 'advertise'"), [](Error e) {
      e.code = Code::InvalidConfig;
      e.msg += " (expected an interface name or an IP address)";
      return e;
    }));

  if (auto p = TRY(json::optInt(root, "port", "", 1, 65535))) c.port = uint16_t(*p);
  else if (node.port) c.port = uint16_t(*node.port);
  if (auto m = TRY(json::optInt(root, "mtu", "", 576, 65535))) c.mtu = unsigned(*m);

  c.hostName = kv::hostIdentity(node);
  if (auto sd = TRY(json::optString(root, "stateDir", ""))) c.stateDir = *sd;
  else if (node.stateDir) c.stateDir = *node.stateDir;

  if (conf.ipamType.empty())
    return fail(Code::InvalidConfig, "field 'ipam.type' is required: overlay needs an IPAM plugin (e.g. overlay-ipam)");
  c.ipamType = conf.ipamType;
  if (auto r = TRY(json::optBool(root, "resolver", ""))) c.resolver = *r;

  if (!readMac) return c;
  // MAC: the "mac" capability wins over CNI_ARGS MAC=, as the reference plugins do.
  std::optional<std::string> mac;
  if (const auto* rc = conf.runtimeConfig) mac = TRY(json::optString(*rc, "mac", "runtimeConfig"));
  std::string macField = "runtimeConfig.mac";
  if (!mac && argsMac) {
    mac = argsMac;
    macField = "CNI_ARGS MAC";
  }
  if (mac) {
    auto m = MacAddr::parse(*mac);
    if (!m || m->isMulticast() || m->isZero())
      return fail(Code::InvalidConfig, macField + " '" + *mac + "' is not a unicast MAC address");
    c.mac = *m;
  }
  return c;
}

}  // namespace ovl::overlay
