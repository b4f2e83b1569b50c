// A libnftables context: every call of run() is one atomic transaction in the calling thread's netns.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "util/error.hpp"

struct nft_ctx;

namespace ovl::nft {

class Nft {
 public:
  static Result<Nft> open();

  // Runs a batch of commands (nft(8) syntax, one per line) as one transaction: all or nothing.
  // what names the action in errors; the error's details carry libnftables' message.
  Result<void> run(std::string_view commands, std::string_view what);
  // "list table <family> <table>" as JSON with rule handles; nullopt when the table does not exist.
  Result<std::optional<std::string>> listTable(std::string_view family, std::string_view table);
  // "list ruleset" as JSON (the metrics endpoint counts rules per table).
  Result<std::string> listRuleset();

 private:
  struct Free {
    void operator()(nft_ctx* c) const noexcept;
  };
  explicit Nft(std::unique_ptr<nft_ctx, Free> c) : ctx_(std::move(c)) {}
  // Runs a list command with JSON output: its output, or nullopt when what it names does not exist.
  Result<std::optional<std::string>> listJson(const std::string& cmd, std::string_view what);
  std::unique_ptr<nft_ctx, Free> ctx_;
};

}  // namespace ovl::nft
