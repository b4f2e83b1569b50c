// diag: gwbridge's nftables rules (tables "inet ovl_gwbridge" and "bridge ovl_gwbridge") whose container is
// gone from this host. Each rule carries the comment "ovl:<network>:<containerID>:<ifname>"
// (plugins/gwbridge/rules.hpp); gwbridge names the container's host veth "gwb" + 12 hex digits of
// fnv1a("<containerID>:<ifname>") (plugins/gwbridge/bridge.cpp).
#include <nftables/libnftables.h>

#include <cstdio>
#include <memory>

#include "cni/json.hpp"
#include "diag.hpp"

namespace ovl::ctl {
namespace {

struct NftFree {
  void operator()(nft_ctx* c) const noexcept { nft_ctx_free(c); }
};
using NftPtr = std::unique_ptr<nft_ctx, NftFree>;

Result<NftPtr> openNft() {
  NftPtr c(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!c) return fail(Code::Internal, "libnftables: cannot create a context");
  if (nft_ctx_buffer_output(c.get()) != 0 || nft_ctx_buffer_error(c.get()) != 0)
    return fail(Code::Internal, "libnftables: cannot buffer output");
  return c;
}

// Runs one command; the output, or nullopt when the table does not exist.
Result<std::optional<std::string>> runNft(nft_ctx* c, const std::string& cmd, bool jsonOut) {
  nft_ctx_output_set_flags(c, jsonOut ? NFT_CTX_OUTPUT_JSON | NFT_CTX_OUTPUT_HANDLE : 0);
  int rc = nft_run_cmd_from_buffer(c, cmd.c_str());
  const char* o = nft_ctx_get_output_buffer(c);
  const char* e = nft_ctx_get_error_buffer(c);
  std::string out = o ? o : "", err = e ? e : "";
  if (rc != 0) {
    if (err.find("No such file or directory") != std::string::npos) return std::nullopt;
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    return fail(Code::Internal, "nft '" + cmd + "' failed", err);
  }
  return out;
}

std::string gwbridgeVeth(const std::string& cid, const std::string& ifName) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a(cid + ":" + ifName)));
  return "gwb" + std::string(hex, 12);
}

struct Tag {
  std::string network, containerId, ifName;
};

std::optional<Tag> parseTag(std::string_view c) {
  if (c.rfind("ovl:", 0) != 0) return std::nullopt;
  c.remove_prefix(4);
  auto a = c.find(':');
  if (a == std::string_view::npos) return std::nullopt;
  auto b = c.find(':', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  return Tag{std::string(c.substr(0, a)), std::string(c.substr(a + 1, b - a - 1)), std::string(c.substr(b + 1))};
}

}  // namespace

Result<void> diagNftRules(DiagInput& in, const std::optional<std::string>& net, std::vector<Finding>& out) {
  auto nft = TRY(openNft());
  std::shared_ptr<nft_ctx> shared(nft.release(), NftFree{});
  for (const char* family : {"inet", "bridge"}) {
    auto listing = TRY(runNft(shared.get(), std::string("list table ") + family + " ovl_gwbridge", true));
    if (!listing) continue;
    json::Doc d;
    TRY_VOID(json::parseInto(d, *listing, "nft's JSON listing"));
    const auto* items = d.IsObject() ? json::member(d, "nftables") : nullptr;
    if (!items || !items->IsArray()) continue;
    for (const auto& item : items->GetArray()) {
      const auto* rule = item.IsObject() ? json::member(item, "rule") : nullptr;
      if (!rule || !rule->IsObject()) continue;
      const auto* comment = json::member(*rule, "comment");
      const auto* chain = json::member(*rule, "chain");
      const auto* handle = json::member(*rule, "handle");
      if (!comment || !comment->IsString() || !chain || !chain->IsString() || !handle || !handle->IsUint64()) continue;
      auto tag = parseTag(comment->GetString());
      if (!tag || (net && tag->network != *net)) continue;
      bool live = in.link(gwbridgeVeth(tag->containerId, tag->ifName)) != nullptr;
      for (const auto& a : in.snap.attachments)
        if (a.host == in.ctx.host && a.containerId == tag->containerId) live = true;
      if (live) continue;
      std::string cmd = std::string("delete rule ") + family + " ovl_gwbridge " + chain->GetString() + " handle " +
                        std::to_string(handle->GetUint64());
      out.push_back({tag->network, "nft-rule-stale",
                     std::string(family) + " ovl_gwbridge " + chain->GetString() + " handle " +
                         std::to_string(handle->GetUint64()),
                     "a gwbridge rule (" + std::string(comment->GetString()) + ") of container " + tag->containerId +
                         ", which no longer exists on this host: its NAT or port mapping still applies to whoever "
                         "gets its address",
                     [shared, cmd]() -> Result<void> {
                       auto r = TRY(runNft(shared.get(), cmd, false));
                       (void)r;
                       return {};
                     },
                     ""});
    }
  }
  return {};
}

}  // namespace ovl::ctl
