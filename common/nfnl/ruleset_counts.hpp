// What a listing of the nf_tables ruleset (nfnl::listRuleset) holds, counted for the metrics endpoint: rules
// per table, and elements per set or map. Pure: the listing is the input.
#pragma once

#include <map>
#include <string>
#include <tuple>
#include <utility>

#include "nfnl/listing.hpp"

namespace ovl::nfnl {

struct RulesetCounts {
  std::map<std::pair<std::string, std::string>, size_t> rules;                  // (family, table); 0 for empty tables
  std::map<std::tuple<std::string, std::string, std::string>, size_t> elements;  // (family, table, set or map)
};

RulesetCounts countRuleset(const Listing& l);

}  // namespace ovl::nfnl
