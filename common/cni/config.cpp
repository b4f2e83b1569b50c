#include "cni/config.hpp"

#include "cni/version.hpp"
#include "util/ip.hpp"

namespace ovl::cni {

const json::Value* NetConf::runtime(std::string_view key) const {
  return runtimeConfig ? json::member(*runtimeConfig, key) : nullptr;
}

static Result<const json::Value*> optObject(const json::Value& obj, std::string_view key, std::string_view path) {
  const json::Value* v = json::member(obj, key);
  if (v && !v->IsObject()) return fail(Code::InvalidConfig, "field '" + json::join(path, key) + "' must be an object");
  return v;
}

static Result<std::vector<Attachment>> parseAttachments(const json::Value& v, const std::string& path) {
  if (!v.IsArray()) return fail(Code::InvalidConfig, "field '" + path + "' must be an array");
  std::vector<Attachment> out;
  for (size_t i = 0; i < v.Size(); ++i) {
    std::string p = json::index(path, i);
    const auto& e = v[rapidjson::SizeType(i)];
    if (!e.IsObject()) return fail(Code::InvalidConfig, "field '" + p + "' must be an object");
    Attachment a;
    a.containerId = TRY(json::reqString(e, "containerID", p));
    a.ifName = TRY(json::reqString(e, "ifname", p));
    out.push_back(std::move(a));
  }
  return out;
}

Result<NetConf> parseNetConf(std::string_view text, bool requireName) {
  NetConf c;
  c.doc = std::make_unique<json::Doc>();
  TRY_VOID(json::parseInto(*c.doc, text, "network configuration on stdin"));
  const json::Value& root = *c.doc;
  if (!root.IsObject()) return fail(Code::Decode, "network configuration on stdin must be a JSON object");

  auto ver = TRY(json::optString(root, "cniVersion", ""));
  // A missing cniVersion means 0.1.0, which we do not speak.
  c.cniVersion = ver.value_or("0.1.0");
  TRY_VOID(requireSupported(c.cniVersion));

  c.name = TRY(json::optString(root, "name", "")).value_or("");
  if (requireName) {
    if (c.name.empty()) return fail(Code::InvalidConfig, "field 'name' is required");
    if (!isValidIdentifier(c.name))
      return fail(Code::InvalidConfig, "field 'name' '" + c.name +
                                           "' is not a valid network name (letters, digits, '_', '.', '-')");
  }
  c.type = TRY(json::optString(root, "type", "")).value_or("");

  c.ipam = TRY(optObject(root, "ipam", ""));
  if (c.ipam) c.ipamType = TRY(json::optString(*c.ipam, "type", "ipam")).value_or("");
  if (c.ipam && !c.ipamType.empty() && c.ipamType.find('/') != std::string::npos)
    return fail(Code::InvalidConfig, "field 'ipam.type' '" + c.ipamType + "' must be a plugin name, not a path");

  c.runtimeConfig = TRY(optObject(root, "runtimeConfig", ""));
  c.args = TRY(optObject(root, "args", ""));
  c.capabilities = TRY(optObject(root, "capabilities", ""));

  if (const auto* d = json::member(root, "dns")) {
    if (!d->IsObject()) return fail(Code::InvalidConfig, "field 'dns' must be an object");
    c.dns.nameservers = TRY(json::optStringArray(*d, "nameservers", "dns"));
    c.dns.domain = TRY(json::optString(*d, "domain", "dns")).value_or("");
    c.dns.search = TRY(json::optStringArray(*d, "search", "dns"));
    c.dns.options = TRY(json::optStringArray(*d, "options", "dns"));
  }

  if (const auto* p = json::member(root, "prevResult")) c.prevResult = TRY(parseResult(*p, "prevResult"));

  if (const auto* a = json::member(root, "cni.dev/valid-attachments"))
    c.validAttachments = TRY(parseAttachments(*a, "cni.dev/valid-attachments"));
  else if (const auto* b = json::member(root, "cni.dev/attachments"))
    c.validAttachments = TRY(parseAttachments(*b, "cni.dev/attachments"));
  return c;
}

std::string peekVersion(std::string_view text) {
  json::Doc doc;
  if (json::tryParse(doc, text) && doc.IsObject()) {
    if (const auto* v = json::member(doc, "cniVersion"); v && v->IsString() && isSupported(v->GetString()))
      return v->GetString();
  }
  return std::string(kLatestVersion);
}

Result<const std::vector<Attachment>*> requireValidAttachments(const NetConf& conf) {
  if (!conf.validAttachments)
    return fail(Code::InvalidConfig,
                "GC needs field 'cni.dev/valid-attachments' (the attachments to keep); nothing was removed");
  return &*conf.validAttachments;
}

}  // namespace ovl::cni
