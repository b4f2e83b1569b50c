#include "nft/gwbridge_listing.hpp"

#include "cni/json.hpp"
#include "nft/gwbridge_names.hpp"

namespace ovl::gwnames {
namespace {

std::string_view strOf(const json::Value* v) {
  return v && v->IsString() ? std::string_view(v->GetString(), v->GetStringLength()) : std::string_view();
}

std::string itemText(const json::Value& v, bool quote) {
  if (v.IsString()) {
    std::string s(v.GetString(), v.GetStringLength());
    return quote ? "\"" + s + "\"" : s;
  }
  if (v.IsUint()) return std::to_string(v.GetUint());
  return "";
}

// "a . b . c" from {"concat": [...]} or a single value; "" when it holds anything else.
std::string valueText(const json::Value& v, bool quote) {
  if (!v.IsObject()) return itemText(v, quote);
  const auto* c = json::member(v, "concat");
  if (!c || !c->IsArray()) return "";
  std::string out;
  for (const auto& i : c->GetArray()) {
    std::string t = itemText(i, quote);
    if (t.empty()) return "";
    out += (out.empty() ? "" : " . ") + t;
  }
  return out;
}

void readElements(const json::Value& set, std::vector<ListedElement>& out) {
  const auto* elems = json::member(set, "elem");
  if (!elems || !elems->IsArray()) return;
  const std::string family(strOf(json::member(set, "family")));
  const std::string name(strOf(json::member(set, "name")));
  const bool quote = name == kHairpin;  // interface names
  for (const auto& e : elems->GetArray()) {
    // A map element is [key, value]; a key with a comment is {"elem": {"val": key, "comment": "..."}}.
    const json::Value* key = &e;
    const json::Value* value = nullptr;
    if (e.IsArray() && e.Size() == 2) {
      key = &e[0];
      value = &e[1];
    }
    ListedElement le;
    if (key->IsObject())
      if (const auto* w = json::member(*key, "elem"); w && w->IsObject()) {
        le.comment = std::string(strOf(json::member(*w, "comment")));
        key = json::member(*w, "val");
        if (!key) continue;
      }
    le.elem = {family, name, valueText(*key, quote), value ? valueText(*value, false) : ""};
    if (!le.elem.key.empty()) out.push_back(std::move(le));
  }
}

}  // namespace

Result<std::vector<ListedElement>> parseElements(std::string_view jsonText) {
  json::Doc doc;
  TRY_VOID(json::parseInto(doc, jsonText, "nftables listing"));
  const auto* items = json::member(doc, "nftables");
  if (!items || !items->IsArray()) return fail(Code::Internal, "nftables listing has no 'nftables' array");
  std::vector<ListedElement> out;
  for (const auto& item : items->GetArray())
    for (std::string_view kind : {"map", "set"})
      if (const auto* s = item.IsObject() ? json::member(item, kind) : nullptr;
          s && s->IsObject() && strOf(json::member(*s, "table")) == kTable)
        readElements(*s, out);
  return out;
}

std::string deleteElementText(const Element& e) {
  return "delete element " + e.family + " " + std::string(kTable) + " " + e.set + " { " + e.key + " }\n";
}

}  // namespace ovl::gwnames
