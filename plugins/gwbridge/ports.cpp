#include "gwbridge/ports.hpp"

#include <netinet/in.h>
#include <strings.h>

#include <cmath>
#include <string>

namespace ovl::gwbridge {
namespace {

bool equalsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// obj's member whose name equals key ignoring ASCII case; nullptr when absent or null.
const json::Value* memberNoCase(const json::Value& obj, std::string_view key) {
  for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it) {
    if (equalsNoCase({it->name.GetString(), it->name.GetStringLength()}, key))
      return it->value.IsNull() ? nullptr : &it->value;
  }
  return nullptr;
}

Result<uint16_t> port(const json::Value& obj, std::string_view key, const std::string& path) {
  const json::Value* v = memberNoCase(obj, key);
  std::string field = json::join(path, key);
  if (!v) return fail(Code::InvalidConfig, "field '" + field + "' is required");
  // Some runtimes encode numbers as floats (1234.0); accept integral values only.
  double d = 0;
  if (v->IsInt64())
    d = double(v->GetInt64());
  else if (v->IsDouble())
    d = v->GetDouble();
  else
    return fail(Code::InvalidConfig, "field '" + field + "' must be a port number (1-65535)");
  if (!(d >= 1 && d <= 65535) || d != std::floor(d))
    return fail(Code::InvalidConfig,
                "field '" + field + "' must be a port number (1-65535), got " + json::toString(*v));
  return uint16_t(d);
}

Result<Proto> protocol(const json::Value& obj, const std::string& path) {
  const json::Value* v = memberNoCase(obj, "protocol");
  if (!v) return Proto::Tcp;
  if (!v->IsString()) return fail(Code::InvalidConfig, "field '" + json::join(path, "protocol") + "' must be a string");
  std::string_view s(v->GetString(), v->GetStringLength());
  if (s.empty() || equalsNoCase(s, "tcp")) return Proto::Tcp;
  if (equalsNoCase(s, "udp")) return Proto::Udp;
  if (equalsNoCase(s, "sctp")) return Proto::Sctp;
  return fail(Code::InvalidConfig,
              "field '" + json::join(path, "protocol") + "' is '" + std::string(s) + "', must be tcp, udp or sctp");
}

Result<std::optional<IpAddr>> hostIp(const json::Value& obj, const std::string& path) {
  const json::Value* v = memberNoCase(obj, "hostIP");
  if (!v) return std::nullopt;
  if (!v->IsString()) return fail(Code::InvalidConfig, "field '" + json::join(path, "hostIP") + "' must be a string");
  std::string_view s(v->GetString(), v->GetStringLength());
  if (s.empty()) return std::nullopt;
  auto ip = IpAddr::parse(s);
  if (!ip)
    return fail(Code::InvalidConfig,
                "field '" + json::join(path, "hostIP") + "' is not an IP address: '" + std::string(s) + "'");
  bool any = true;
  for (int i = 0; i < ip->byteLen(); ++i) any = any && ip->bytes()[i] == 0;
  if (any) return std::nullopt;
  return *ip;
}

}  // namespace

std::string_view protoName(Proto p) {
  switch (p) {
    case Proto::Tcp:
      return "tcp";
    case Proto::Udp:
      return "udp";
    case Proto::Sctp:
      return "sctp";
  }
  return "tcp";
}

int protoNumber(Proto p) {
  switch (p) {
    case Proto::Tcp:
      return IPPROTO_TCP;
    case Proto::Udp:
      return IPPROTO_UDP;
    case Proto::Sctp:
      return IPPROTO_SCTP;
  }
  return IPPROTO_TCP;
}

Result<std::vector<PortMapping>> parsePortMappings(const json::Value* v, std::string_view path) {
  std::vector<PortMapping> out;
  if (!v) return out;
  if (!v->IsArray()) return fail(Code::InvalidConfig, "field '" + std::string(path) + "' must be an array");
  for (size_t i = 0; i < v->Size(); ++i) {
    std::string p = json::index(path, i);
    const auto& e = (*v)[rapidjson::SizeType(i)];
    if (!e.IsObject()) return fail(Code::InvalidConfig, "field '" + p + "' must be an object");
    PortMapping m;
    m.hostPort = TRY(port(e, "hostPort", p));
    m.containerPort = TRY(port(e, "containerPort", p));
    m.proto = TRY(protocol(e, p));
    m.hostIp = TRY(hostIp(e, p));
    bool dup = false;
    for (const auto& o : out) {
      if (o.hostPort != m.hostPort || o.proto != m.proto || o.hostIp != m.hostIp) continue;
      if (o.containerPort != m.containerPort)
        return fail(Code::InvalidConfig, "field '" + p + "': host port " + std::string(protoName(m.proto)) + "/" +
                                             std::to_string(m.hostPort) + " is mapped twice");
      dup = true;
    }
    if (!dup) out.push_back(m);
  }
  return out;
}

std::vector<PortMapping> mappingsForFamily(const std::vector<PortMapping>& all, int family) {
  std::vector<PortMapping> out;
  for (const auto& m : all)
    if (!m.hostIp || m.hostIp->family() == family) out.push_back(m);
  return out;
}

}  // namespace ovl::gwbridge
