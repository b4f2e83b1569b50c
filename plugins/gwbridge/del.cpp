// DEL: every step runs whatever the others did; nothing found is success. Works with an empty CNI_NETNS and
// no prevResult: the rules are found by their tag, the veth by its derived name, the lease by IPAM.
#include "cni/delegate.hpp"
#include "gwbridge/config.hpp"
#include "gwbridge/nat.hpp"
#include "gwbridge/plugin.hpp"
#include "nl/link.hpp"
#include "util/log.hpp"

namespace ovl::gwbridge {
namespace {

class Errors {
 public:
  // The first error becomes DEL's error (the skeleton reports it); later ones are logged and go into its
  // details.
  void add(Error&& e, std::string_view step) {
    if (!first_) {
      first_ = std::move(e).context(step);
      return;
    }
    log::warn(std::string(step) + ": " + e.msg + (e.details.empty() ? "" : " (" + e.details + ")"));
    more_ += std::string(more_.empty() ? "" : "; ") + std::string(step) + ": " + e.msg;
  }
  Result<void> result() && {
    if (!first_) return {};
    if (!more_.empty()) first_->details += (first_->details.empty() ? "" : "; ") + ("also failed: " + more_);
    return fail(std::move(*first_));
  }

 private:
  std::optional<Error> first_;
  std::string more_;
};

Result<std::vector<ListedRule>> deleteRules(const std::string& tag) {
  auto nft = TRY(nft::Nft::open());
  return removeRules(nft, tag);
}

Result<void> deleteVeth(const std::string& name) {
  auto host = TRY(nl::Socket::open());
  return nl::deleteLink(host, name);
}

}  // namespace

Result<void> cmdDel(const cni::CmdArgs& args, const cni::NetConf& conf) {
  auto gw = TRY(parseGwConf(conf, args.stdinData, /*lenientPorts=*/true));
  const Attachment at = attachmentOf(args, conf);
  Errors errors;

  std::vector<ListedRule> removed;
  if (auto r = deleteRules(at.tag); r)
    removed = std::move(*r);
  else
    errors.add(std::move(r.error()), "deleting the rules");

  CtFilter f = ctFilterFor(removed);
  for (const auto& m : gw.portMappings) f.ports.push_back(CtPort{m.proto, m.hostPort, m.hostIp});
  if (auto r = flushConntrack(f); !r)
    log::warn("flushing conntrack entries: " + r.error().msg + ", ignoring");
  else
    log::debug("flushed " + std::to_string(*r) + " conntrack entries");

  if (auto r = cni::delegateDel(gw.ipamType, ipamArgs(args, conf), gw.ipamStdin); !r)
    errors.add(std::move(r.error()), "releasing the address");
  log::debug("address released");

  if (auto r = deleteVeth(at.hostVeth); !r) errors.add(std::move(r.error()), "deleting veth " + at.hostVeth);

  log::info("deleted " + std::to_string(removed.size()) + " rules and veth " + at.hostVeth);
  return std::move(errors).result();
}

}  // namespace ovl::gwbridge
