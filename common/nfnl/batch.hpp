// One nf_tables transaction: commands added in order, committed all or nothing in the calling thread's
// network namespace. "add" commands are idempotent (no NLM_F_EXCL), as `nft add` is.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nfnl/expr.hpp"
#include "nfnl/wire.hpp"
#include "util/error.hpp"

namespace ovl::nfnl {

// Families, as nft names them.
enum class Family : uint8_t { Inet = 1, Ip = 2, Bridge = 7, Ip6 = 10 };  // NFPROTO_*
std::string_view familyName(Family f);
std::optional<Family> familyOf(uint8_t nfproto);

struct Hook {
  uint32_t num;       // NF_INET_* hook
  int32_t priority;
  std::string type;   // "filter", "nat"
  uint32_t policy;    // NF_ACCEPT, NF_DROP
};

struct SetSpec {
  std::string name;
  uint32_t flags = 0;    // NFT_SET_*
  uint32_t keyType = 0;  // nft's datatype number (concatenations: 6 bits per part)
  uint32_t keyLen = 0;   // bytes, each concatenated part rounded up to 4
  uint32_t dataType = 0, dataLen = 0;  // maps
  Bytes userdata;        // nft's description of the key (typeof), for `nft list`
};

struct Element {
  Bytes key;
  Bytes data;  // maps only
  std::string comment;
};

class Batch {
 public:
  void addTable(Family f, std::string_view table);
  void deleteTable(Family f, std::string_view table);
  void addChain(Family f, std::string_view table, std::string_view chain, const std::optional<Hook>& hook,
                std::string_view comment = {});
  void flushChain(Family f, std::string_view table, std::string_view chain);
  void deleteChain(Family f, std::string_view table, std::string_view chain);
  void addSet(Family f, std::string_view table, const SetSpec& set);
  void addElements(Family f, std::string_view table, std::string_view set, const std::vector<Element>& elems);
  // Fails the transaction (ENOENT) when an element is not there.
  void deleteElements(Family f, std::string_view table, std::string_view set, const std::vector<Element>& elems);
  void addRule(Family f, std::string_view table, std::string_view chain, const std::vector<Expr>& exprs,
               std::string_view comment = {});
  void deleteRule(Family f, std::string_view table, std::string_view chain, uint64_t handle);

  bool empty() const { return described_.empty(); }
  size_t size() const { return described_.size(); }
  // Applies every command or none. The error names `what`, the refused command and the kernel's errno
  // (Error::sysErrno; ENOENT when what it deletes is not there).
  Result<void> commit(std::string_view what) const;

 private:
  // Starts the next command's message; `text` describes it in nft's words for errors.
  void command(uint16_t msg, uint16_t flags, Family f, std::string text);
  void elements(uint16_t msg, uint16_t flags, Family f, std::string_view table, std::string_view set,
                const std::vector<Element>& elems, std::string_view verb);
  Writer w_;
  std::vector<std::string> described_;
};

}  // namespace ovl::nfnl
