#include "dns_names.hpp"

#include <algorithm>

namespace ovl::overlay {

bool isValidDnsName(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 253) return false;
  size_t start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) dot = name.size();
    std::string_view label = name.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char ch : label) {
      const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                      ch == '_';
      if (!ok) return false;
    }
    start = dot + 1;
  }
  return true;
}

std::string canonicalName(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::string out(name);
  for (char& ch : out)
    if (ch >= 'A' && ch <= 'Z') ch = char(ch - 'A' + 'a');
  return out;
}

Result<std::vector<std::string>> attachmentNames(const cni::CmdArgs& args, const cni::NetConf& conf,
                                                 const std::string& net) {
  std::vector<std::string> out;
  auto add = [&](std::string_view name, const std::string& field) -> Result<void> {
    if (!isValidDnsName(name))
      return fail(Code::InvalidConfig, field + " '" + std::string(name) +
                                           "' is not a valid DNS name (labels of letters, digits, '-' and '_')");
    std::string c = canonicalName(name);
    if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(std::move(c));
    return {};
  };
  if (auto pod = args.args.get("K8S_POD_NAME"); pod && !pod->empty()) TRY_VOID(add(*pod, "CNI_ARGS K8S_POD_NAME"));
  if (const json::Value* aliases = conf.runtime("aliases")) {
    if (!aliases->IsObject()) return fail(Code::InvalidConfig, "field 'runtimeConfig.aliases' must be an object");
    const std::string path = "runtimeConfig.aliases";
    for (const std::string& a : TRY(json::optStringArray(*aliases, net, path))) TRY_VOID(add(a, json::join(path, net)));
  }
  return out;
}

}  // namespace ovl::overlay
