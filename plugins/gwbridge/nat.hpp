// gwbridge's rules in the kernel: apply, find and remove one attachment's rules, each as one transaction.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "gwbridge/rules.hpp"
#include "nft/nft.hpp"
#include "util/error.hpp"

namespace ovl::gwbridge {

// Every rule of both our tables (none when the tables do not exist).
Result<std::vector<ListedRule>> listRules(nft::Nft& nft);

// Ensures the tables and chains, removes rules left by an earlier ADD of the same attachment and adds
// its rules: one transaction.
Result<void> applyRules(nft::Nft& nft, const AttachmentRules& a);

// The attachment's rules as they are in the kernel.
Result<std::vector<ListedRule>> findRules(nft::Nft& nft, std::string_view tag);

// Deletes the attachment's rules in one transaction (retried if a concurrent change got in between);
// none is success. Returns what was deleted.
Result<std::vector<ListedRule>> removeRules(nft::Nft& nft, std::string_view tag);

// GC: deletes the rules of every attachment of the network whose tag is not in keepTags, in one
// transaction.
Result<std::vector<ListedRule>> removeRulesExcept(nft::Nft& nft, std::string_view network,
                                                  const std::set<std::string>& keepTags);

}  // namespace ovl::gwbridge
