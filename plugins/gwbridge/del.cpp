// DEL: every step runs whatever the others did; nothing found is success. Works with an empty CNI_NETNS and
// no prevResult: the port mappings' elements are in the attachment's record, the veth has a derived name,
// the lease is IPAM's. Without port mappings no nftables transaction (two rule dumps look for the
// per-attachment rules of earlier versions), except when the bridge's last port goes: then the bridge's
// rules go with it.
#include "cni/delegate.hpp"
#include "gwbridge/config.hpp"
#include "gwbridge/nat.hpp"
#include "gwbridge/plugin.hpp"
#include "gwbridge/state.hpp"
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

Result<void> deleteElements(const AttachmentRecord& r, const std::string& tag) {
  if (r.elements.empty()) return {};
  return removeElements(r.elements, tag);
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

  const auto record = readRecord(at.network, at.containerId, at.ifName);
  bool elementsGone = true;
  if (record)
    if (auto r = deleteElements(*record, at.tag); !r) {
      elementsGone = false;  // the record stays for the next DEL
      errors.add(std::move(r.error()), "deleting the port mappings");
    }

  // A host upgraded from a version with per-attachment rules: they go with their attachment.
  if (auto r = removeRulesOf(at.tag); !r) errors.add(std::move(r.error()), "deleting the rules of an earlier version");

  CtFilter f = record ? ctFilterFor(*record) : CtFilter{};
  for (const auto& m : gw.portMappings) f.ports.push_back(CtPort{m.proto, m.hostPort, m.hostIp});
  if (auto r = flushConntrack(f); !r)
    log::warn("flushing conntrack entries: " + r.error().msg + ", ignoring");
  else
    log::debug("flushed " + std::to_string(*r) + " conntrack entries");

  if (auto r = cni::delegateDel(gw.ipamType, ipamArgs(args, conf), gw.ipamStdin); !r)
    errors.add(std::move(r.error()), "releasing the address");
  log::debug("address released");

  if (auto r = deleteVeth(at.hostVeth); !r) errors.add(std::move(r.error()), "deleting veth " + at.hostVeth);
  if (auto r = elementsGone ? removeRecord(at.network, at.containerId, at.ifName) : Result<void>{}; !r)
    errors.add(std::move(r.error()), "removing the record");
  const std::string bridge = record ? record->bridge : gw.bridge;
  if (auto r = releaseBridgeIfUnused(bridge); !r)
    errors.add(std::move(r.error()), "removing the rules of bridge " + bridge);

  log::info("deleted " + std::to_string(record ? record->elements.size() : 0) + " port mapping elements and veth " +
            at.hostVeth);
  return std::move(errors).result();
}

}  // namespace ovl::gwbridge
