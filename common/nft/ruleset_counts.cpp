#include "nft/ruleset_counts.hpp"

#include "cni/json.hpp"

namespace ovl::nft {
namespace {

// obj[k] when it is a string.
const json::Value* text(const json::Value& obj, const char* k) {
  const auto* v = json::member(obj, k);
  return v && v->IsString() ? v : nullptr;
}

}  // namespace

Result<RulesetCounts> countRuleset(std::string_view listing) {
  json::Doc doc;
  TRY_VOID(json::parseInto(doc, listing, "the nftables ruleset"));
  const auto* items = doc.IsObject() ? json::member(doc, "nftables") : nullptr;
  if (!items || !items->IsArray()) return fail(Code::Decode, "the nftables ruleset has no 'nftables' list");
  RulesetCounts c;
  for (const auto& it : items->GetArray()) {
    if (!it.IsObject() || it.MemberCount() != 1) continue;
    const std::string_view kind = it.MemberBegin()->name.GetString();
    const json::Value& o = it.MemberBegin()->value;
    const auto* fam = text(o, "family");
    if (!o.IsObject() || !fam) continue;
    if (kind == "table") {
      if (const auto* name = text(o, "name")) c.rules[{fam->GetString(), name->GetString()}] += 0;
    } else if (kind == "rule") {
      if (const auto* table = text(o, "table")) c.rules[{fam->GetString(), table->GetString()}] += 1;
    } else if (kind == "set" || kind == "map") {
      const auto* table = text(o, "table");
      const auto* name = text(o, "name");
      if (!table || !name) continue;
      const auto* elem = json::member(o, "elem");
      c.elements[{fam->GetString(), table->GetString(), name->GetString()}] = elem && elem->IsArray() ? elem->Size() : 0;
    }
  }
  return c;
}

}  // namespace ovl::nft
