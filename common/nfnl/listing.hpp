// What nf_tables holds, read with netlink dumps: tables, chains, sets with their elements, rules with
// their expressions. For one table, or for the whole ruleset of the calling thread's network namespace.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nfnl/batch.hpp"
#include "nfnl/expr.hpp"
#include "util/error.hpp"

namespace ovl::nfnl {

struct ListedChain {
  Family family;
  std::string table, name, comment;
  bool base = false;  // has a hook
};

struct ListedSet {
  Family family;
  std::string table, name;
  uint32_t flags = 0, keyType = 0, keyLen = 0, dataLen = 0;
  std::vector<Element> elements;
};

struct ListedRule {
  Family family;
  std::string table, chain, comment;
  uint64_t handle = 0;
  std::vector<Expr> exprs;  // name and the NFTA_EXPR_DATA attributes, as the kernel dumps them
};

struct Listing {
  std::vector<std::pair<Family, std::string>> tables;
  std::vector<ListedChain> chains;
  std::vector<ListedSet> sets;
  std::vector<ListedRule> rules;
  const ListedSet* set(std::string_view name) const;
};

// Everything of table `table` of family `f`; nullopt when the table does not exist.
Result<std::optional<Listing>> listTable(Family f, std::string_view table);
// Only the rules of table `table` of family `f` (one dump; none when the table does not exist).
Result<std::vector<ListedRule>> listRules(Family f, std::string_view table);
// Every table of the families we know (inet, ip, ip6, bridge), with their sets' elements when asked.
Result<Listing> listRuleset(bool elements);

// Decoding of the listed data, for readers of rules and elements.
// The parts of a concatenated key or value, each `widths[i]` bytes long and 4-byte aligned in `b`.
std::vector<Bytes> splitConcat(const Bytes& b, std::initializer_list<size_t> widths);

}  // namespace ovl::nfnl
