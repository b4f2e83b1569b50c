// What a JSON listing of the nftables ruleset (`nft -j list ruleset`, Nft::listRuleset) holds, counted for
// the metrics endpoint: rules per table, and elements per set or map. Pure: the listing is the input.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include "util/error.hpp"

namespace ovl::nft {

struct RulesetCounts {
  std::map<std::pair<std::string, std::string>, size_t> rules;                  // (family, table); 0 for empty tables
  std::map<std::tuple<std::string, std::string, std::string>, size_t> elements;  // (family, table, set or map)
};

// Code::Decode when the text is not a bounded JSON document with an "nftables" list; items that are not
// well formed are skipped.
Result<RulesetCounts> countRuleset(std::string_view json);

}  // namespace ovl::nft
