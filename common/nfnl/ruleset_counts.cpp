#include "nfnl/ruleset_counts.hpp"

namespace ovl::nfnl {

RulesetCounts countRuleset(const Listing& l) {
  RulesetCounts c;
  for (const auto& [f, t] : l.tables) c.rules[{std::string(familyName(f)), t}] += 0;
  for (const auto& r : l.rules) c.rules[{std::string(familyName(r.family)), r.table}] += 1;
  for (const auto& s : l.sets)
    c.elements[{std::string(familyName(s.family)), s.table, s.name}] = s.elements.size();
  return c;
}

}  // namespace ovl::nfnl
