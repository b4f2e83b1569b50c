#include "model/record_json.hpp"

namespace ovl::model::recjson {

std::string finish(const rapidjson::StringBuffer& sb) { return std::string(sb.GetString(), sb.GetSize()); }

Result<void> object(json::Doc& d, std::string_view key, std::string_view value) {
  TRY_VOID(json::parseInto(d, value, "record " + std::string(key)));
  if (!d.IsObject()) return fail(Code::Decode, "record " + std::string(key) + " is not a JSON object");
  return {};
}

std::unexpected<Error> bad(std::string_view key, std::string_view why) {
  return fail(Code::Decode, "record " + std::string(key) + " " + std::string(why));
}

std::string optStr(const json::Value& d, const char* k) {
  const auto* v = json::member(d, k);
  return v && v->IsString() ? std::string(v->GetString(), v->GetStringLength()) : std::string();
}

}  // namespace ovl::model::recjson
