#include "cluster.hpp"

#include <ctime>

#include "cni/json.hpp"
#include "util/log.hpp"

namespace ovl::overlay {
namespace {

std::string memberJson(const Member& m, uint32_t vni) {
  rapidjson::StringBuffer sb;
  json::Writer w(sb);
  w.StartObject();
  json::key(w, "host"); json::str(w, m.host);
  json::key(w, "vtep"); json::str(w, m.vtep.str());
  json::key(w, "port"); w.Uint(m.port);
  json::key(w, "vni"); w.Uint(vni);
  w.EndObject();
  return sb.GetString();
}

std::string attachmentJson(const AttachmentRecord& a) {
  rapidjson::StringBuffer sb;
  json::Writer w(sb);
  w.StartObject();
  json::key(w, "containerID"); json::str(w, a.containerId);
  json::key(w, "ifname"); json::str(w, a.ifName);
  json::key(w, "host"); json::str(w, a.host);
  json::key(w, "mac"); json::str(w, a.mac);
  json::key(w, "ips");
  w.StartArray();
  for (const auto& ip : a.ips) json::str(w, ip);
  w.EndArray();
  if (!a.names.empty()) {
    json::key(w, "names");
    w.StartArray();
    for (const auto& n : a.names) json::str(w, n);
    w.EndArray();
  }
  json::key(w, "time"); w.Int64(int64_t(std::time(nullptr)));
  w.EndObject();
  return sb.GetString();
}

std::string hostJson(const Member& m) {
  rapidjson::StringBuffer sb;
  json::Writer w(sb);
  w.StartObject();
  json::key(w, "host"); json::str(w, m.host);
  json::key(w, "vtep"); json::str(w, m.vtep.str());
  json::key(w, "time"); w.Int64(int64_t(std::time(nullptr)));
  w.EndObject();
  return sb.GetString();
}

std::string configJson(uint32_t vni) {
  rapidjson::StringBuffer sb;
  json::Writer w(sb);
  w.StartObject();
  json::key(w, "vni"); w.Uint(vni);
  json::key(w, "scope"); json::str(w, "global");
  w.EndObject();
  return sb.GetString();
}

std::optional<uint32_t> vniFromConfig(std::string_view value) {
  json::Doc d;
  d.Parse(value.data(), value.size());
  if (d.HasParseError() || !d.IsObject()) return std::nullopt;
  const auto* v = json::member(d, "vni");
  if (!v || !v->IsUint() || v->GetUint() == 0 || v->GetUint() > 16777215) return std::nullopt;
  return v->GetUint();
}

}  // namespace

Result<Cluster> Cluster::connect(const kv::ConsulConfig& cfg) {
  auto c = TRY(kv::ConsulClient::create(cfg));
  return Cluster(std::move(c));
}

NetworkState parseNetworkListing(const kv::ConsulClient& kv, const std::string& net,
                                 const std::vector<kv::KvPair>& pairs) {
  NetworkState st;
  const std::string base = kv.key("networks/" + net + "/");
  const std::string membersPrefix = base + "members/";
  for (const auto& p : pairs) {
    if (p.key == base + "config") {
      st.vni = vniFromConfig(p.value);
      st.configIndex = p.modifyIndex;
    } else if (p.key.rfind(membersPrefix, 0) == 0) {
      json::Doc d;
      d.Parse(p.value.data(), p.value.size());
      if (d.HasParseError() || !d.IsObject()) {
        log::warn("ignoring malformed member record " + p.key);
        continue;
      }
      Member m;
      m.host = p.key.substr(membersPrefix.size());
      const auto* vt = json::member(d, "vtep");
      auto ip = vt && vt->IsString() ? IpAddr::parse(vt->GetString()) : std::nullopt;
      if (!ip) {
        log::warn("ignoring member record without a valid vtep: " + p.key);
        continue;
      }
      m.vtep = *ip;
      if (const auto* po = json::member(d, "port"); po && po->IsUint() && po->GetUint() <= 65535) m.port = uint16_t(po->GetUint());
      st.members.push_back(std::move(m));
    }
  }
  return st;
}

Result<NetworkState> Cluster::readNetwork(const std::string& net) {
  auto pairs = TRY(kv_.list(kv_.key("networks/" + net + "/")));
  return parseNetworkListing(kv_, net, pairs);
}

Result<uint32_t> Cluster::ensureVni(const std::string& net, std::optional<uint32_t> wanted, const NetworkState& state) {
  if (state.vni) {
    if (wanted && *wanted != *state.vni)
      return fail(Code::InvalidConfig, "field 'vni' is " + std::to_string(*wanted) + " but the store records vni " +
                                           std::to_string(*state.vni) + " for network '" + net + "'");
    return *state.vni;
  }
  // Stable first candidate derived from the name, probing upwards when taken.
  uint32_t cand = wanted ? *wanted : uint32_t(fnv1a(net) % 16000000u) + 4096u;
  for (int attempt = 0; attempt < 64; ++attempt) {
    using Op = kv::TxnOp;
    std::vector<Op> ops = {
        {Op::CheckNotExists, kv_.key("vnis/" + std::to_string(cand)), "", 0},
        {Op::Set, kv_.key("vnis/" + std::to_string(cand)), net, 0},
        {Op::Cas, kv_.key("networks/" + net + "/config"), configJson(cand), 0},
    };
    auto r = TRY(kv_.txn(ops));
    if (r.committed) {
      log::info("network '" + net + "' defined with vni " + std::to_string(cand));
      return cand;
    }
    // Someone else defined the network meanwhile, or the VNI is taken.
    auto now = TRY(readNetwork(net));
    if (now.vni) return ensureVni(net, wanted, now);
    auto owner = TRY(kv_.get(kv_.key("vnis/" + std::to_string(cand))));
    if (owner && owner->value == net) {
      // Our own reverse entry without a config (half-deleted network): write the config.
      (void)TRY(kv_.cas(kv_.key("networks/" + net + "/config"), configJson(cand), 0));
      continue;
    }
    if (wanted)
      return fail(Code::InvalidConfig, "field 'vni' " + std::to_string(cand) + " is already used by network '" +
                                           (owner ? owner->value : std::string("?")) + "'");
    cand = cand >= 16777215u ? 4096u : cand + 1;
  }
  return fail(Code::TryAgainLater, "could not allocate a vni for network '" + net + "' after 64 attempts");
}

Result<void> Cluster::recordAttachment(const std::string& net, uint32_t vni, const Member& self,
                                       const AttachmentRecord& a) {
  using Op = kv::TxnOp;
  std::vector<Op> ops = {
      {Op::Set, kv_.key("networks/" + net + "/members/" + self.host), memberJson(self, vni), 0},
      {Op::Set, kv_.key("attachments/" + net + "/" + self.host + "/" + a.containerId + "/" + a.ifName), attachmentJson(a), 0},
      {Op::Set, kv_.key("hosts/" + self.host), hostJson(self), 0},
  };
  auto r = TRY(kv_.txn(ops));
  if (!r.committed) {
    std::string why;
    for (const auto& e : r.errors) why += (why.empty() ? "" : "; ") + e;
    return fail(Code::TryAgainLater, "recording the attachment in consul failed: " + why);
  }
  return {};
}

Result<void> Cluster::deleteAttachment(const std::string& net, const std::string& host, const std::string& cid,
                                       const std::string& ifName) {
  return kv_.deleteKey(kv_.key("attachments/" + net + "/" + host + "/" + cid + "/" + ifName));
}

Result<std::vector<AttachmentRecord>> Cluster::listAttachments(const std::string& net, const std::string& host) {
  const std::string prefix = kv_.key("attachments/" + net + "/" + host + "/");
  auto pairs = TRY(kv_.list(prefix));
  std::vector<AttachmentRecord> out;
  for (const auto& p : pairs) {
    std::string rest = p.key.substr(prefix.size());
    auto slash = rest.find('/');
    if (slash == std::string::npos) continue;
    AttachmentRecord a;
    a.containerId = rest.substr(0, slash);
    a.ifName = rest.substr(slash + 1);
    a.host = host;
    json::Doc d;
    d.Parse(p.value.data(), p.value.size());
    if (!d.HasParseError() && d.IsObject()) {
      if (const auto* m = json::member(d, "mac"); m && m->IsString()) a.mac = m->GetString();
      if (const auto* ips = json::member(d, "ips"); ips && ips->IsArray())
        for (const auto& ip : ips->GetArray())
          if (ip.IsString()) a.ips.emplace_back(ip.GetString());
      if (const auto* ns = json::member(d, "names"); ns && ns->IsArray())
        for (const auto& n : ns->GetArray())
          if (n.IsString()) a.names.emplace_back(n.GetString());
    }
    out.push_back(std::move(a));
  }
  return out;
}

Result<void> Cluster::withdrawMember(const std::string& net, const std::string& host) {
  return kv_.deleteKey(kv_.key("networks/" + net + "/members/" + host));
}

}  // namespace ovl::overlay
