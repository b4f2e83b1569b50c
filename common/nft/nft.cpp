#include "nft/nft.hpp"

#include <nftables/libnftables.h>

#include <cerrno>
#include <string>

#include "metrics/tally.hpp"
#include "util/log.hpp"

namespace ovl::nft {
namespace {

std::string trimmed(const char* s) {
  std::string out = s ? s : "";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

}  // namespace

void Nft::Free::operator()(nft_ctx* c) const noexcept {
  if (c) nft_ctx_free(c);
}

Result<Nft> Nft::open() {
  std::unique_ptr<nft_ctx, Free> c(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!c) return fail(Code::Internal, "libnftables: cannot create a context");
  if (nft_ctx_buffer_output(c.get()) != 0 || nft_ctx_buffer_error(c.get()) != 0)
    return fail(Code::Internal, "libnftables: cannot buffer output");
  return Nft(std::move(c));
}

Result<void> Nft::run(std::string_view commands, std::string_view what) {
  if (commands.empty()) return {};
  nft_ctx_output_set_flags(ctx_.get(), 0);
  metrics::PhaseTimer timer(metrics::Phase::Nft);
  std::string buf(commands);
  log::debug("nft batch (" + std::string(what) + "):\n" + buf);
  if (nft_run_cmd_from_buffer(ctx_.get(), buf.c_str()) != 0) {
    std::string err = trimmed(nft_ctx_get_error_buffer(ctx_.get()));
    Error e = makeError(Code::Internal, std::string(what) + ": nftables refused the transaction", err);
    if (err.find("No such file or directory") != std::string::npos) e.sysErrno = ENOENT;
    return fail(std::move(e));
  }
  (void)nft_ctx_get_output_buffer(ctx_.get());  // reading resets the buffers for the next command
  (void)nft_ctx_get_error_buffer(ctx_.get());
  return {};
}

Result<std::optional<std::string>> Nft::listJson(const std::string& cmd, std::string_view what) {
  metrics::PhaseTimer timer(metrics::Phase::Nft);
  nft_ctx_output_set_flags(ctx_.get(), NFT_CTX_OUTPUT_JSON | NFT_CTX_OUTPUT_HANDLE);
  int rc = nft_run_cmd_from_buffer(ctx_.get(), cmd.c_str());
  const char* o = nft_ctx_get_output_buffer(ctx_.get());  // reading rewinds the buffer: read once
  std::string out = o ? o : "";
  std::string err = trimmed(nft_ctx_get_error_buffer(ctx_.get()));
  nft_ctx_output_set_flags(ctx_.get(), 0);
  if (rc != 0) {
    if (err.find("No such file or directory") != std::string::npos) return std::nullopt;
    return fail(Code::Internal, std::string(what), err);
  }
  return out;
}

Result<std::optional<std::string>> Nft::listTable(std::string_view family, std::string_view table) {
  const std::string t = std::string(family) + " " + std::string(table);
  return listJson("list table " + t, "listing nftables table " + t);
}

Result<std::string> Nft::listRuleset() {
  auto r = TRY(listJson("list ruleset", "listing the nftables ruleset"));
  return r.value_or("");
}

}  // namespace ovl::nft
