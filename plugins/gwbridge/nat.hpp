// gwbridge's rules and elements in the kernel. A bridge's rules are made once and removed with its last
// port; an attachment adds or removes only its map elements, each as one small transaction.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "gwbridge/rules.hpp"
#include "gwbridge/state.hpp"
#include "util/error.hpp"

namespace ovl::gwbridge {

// Every rule of both our tables (none when the tables do not exist).
Result<std::vector<ListedRule>> listRules();
// Every element of our maps and sets.
Result<std::vector<ListedElement>> listElements();

// The settings recorded on the bridge's chain; nullopt when the bridge has no rules. One netlink request.
Result<std::optional<std::string>> findBridgeStamp(std::string_view bridge);

// Makes sure the bridge's rules are in place with these settings, and returns true when this call made
// them. lock is held shared on entry and on return (it is retaken exclusive to create the rules, then
// shared again, and the rules are checked again under it). Rules with other settings: Code::InvalidConfig
// naming the field and the bridge, and nothing changes.
Result<bool> ensureBridgeRules(const BridgeSettings& s, BridgeLock& lock);

// When the bridge has no port left (or no longer exists), removes its rules in one transaction, under the
// exclusive lock. Returns true when it removed them.
Result<bool> releaseBridgeIfUnused(std::string_view bridge);

// Adds the attachment's elements in one transaction. A host port another attachment holds is an error
// naming that attachment.
Result<void> addElements(const std::vector<Element>& elems, std::string_view tag);
// Removes exactly the attachment's elements (absent ones are fine). When one of them has another value
// in the kernel, the elements carrying the attachment's tag are listed and removed instead.
Result<void> removeElements(const std::vector<Element>& elems, std::string_view tag);

// Removes the rules tagged for one attachment, which versions before the port maps added per attachment (a
// host upgraded with containers running): two rule dumps, and a transaction only when there are any.
Result<void> removeRulesOf(std::string_view tag);

// GC: removes the elements, and the rules of earlier versions, of every attachment of the network whose
// tag is not in keepTags. Returns the tags it removed something of.
Result<std::set<std::string>> removeAllExcept(std::string_view network, const std::set<std::string>& keepTags);

}  // namespace ovl::gwbridge
