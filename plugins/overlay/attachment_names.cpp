#include "overlay/attachment_names.hpp"

#include <algorithm>

#include "model/dns_names.hpp"

namespace ovl::overlay {

using model::canonicalName;
using model::isValidDnsName;

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
