#include "cni/json.hpp"

#include <rapidjson/error/en.h>

#include <algorithm>

namespace ovl::json {

size_t nestingDepth(std::string_view text) {
  size_t depth = 0, deepest = 0;
  bool inString = false, escaped = false;
  for (char ch : text) {
    if (inString) {
      if (escaped) escaped = false;
      else if (ch == '\\') escaped = true;
      else if (ch == '"') inString = false;
    } else if (ch == '"') {
      inString = true;
    } else if (ch == '{' || ch == '[') {
      deepest = std::max(deepest, ++depth);
    } else if ((ch == '}' || ch == ']') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

Result<void> parseInto(Doc& doc, std::string_view text, std::string_view what) {
  // Bounded before anything recursive sees it (CopyFrom, Accept, destructors): a value nested thousands
  // deep would otherwise exhaust the stack of every reader in the cluster.
  if (text.size() > kMaxDocumentBytes)
    return fail(Code::Decode, std::string(what) + " is too large (" + std::to_string(text.size()) + " bytes, at most " +
                                  std::to_string(kMaxDocumentBytes) + ")");
  if (nestingDepth(text) > kMaxDepth)
    return fail(Code::Decode, std::string(what) + " is nested more than " + std::to_string(kMaxDepth) + " levels deep");
  // Default flags reject anything but whitespace after the root value ("root not singular"); strings
  // must be valid UTF-8, or they would be echoed into error JSON that is not valid JSON either.
  doc.Parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag>(text.data(), text.size());
  if (doc.HasParseError())
    return fail(Code::Decode, std::string(what) + " is not valid JSON: " +
                                  rapidjson::GetParseError_En(doc.GetParseError()) + " at offset " +
                                  std::to_string(doc.GetErrorOffset()));
  return {};
}

bool tryParse(Doc& doc, std::string_view text) { return bool(parseInto(doc, text, "")); }

const Value* member(const Value& obj, std::string_view key) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(Value(rapidjson::StringRef(key.data(), rapidjson::SizeType(key.size()))));
  if (it == obj.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

std::string join(std::string_view path, std::string_view key) {
  if (path.empty()) return std::string(key);
  return std::string(path) + "." + std::string(key);
}

std::string index(std::string_view path, size_t i) { return std::string(path) + "[" + std::to_string(i) + "]"; }

static auto typeError(std::string_view path, std::string_view key, std::string_view what) {
  return fail(Code::InvalidConfig, "field '" + join(path, key) + "' must be " + std::string(what));
}

Result<std::optional<std::string>> optString(const Value& obj, std::string_view key, std::string_view path) {
  const Value* v = member(obj, key);
  if (!v) return std::nullopt;
  if (!v->IsString()) return typeError(path, key, "a string");
  return std::string(v->GetString(), v->GetStringLength());
}

Result<std::optional<bool>> optBool(const Value& obj, std::string_view key, std::string_view path) {
  const Value* v = member(obj, key);
  if (!v) return std::nullopt;
  if (!v->IsBool()) return typeError(path, key, "true or false");
  return v->GetBool();
}

Result<std::optional<int64_t>> optInt(const Value& obj, std::string_view key, std::string_view path, int64_t min,
                                      int64_t max) {
  const Value* v = member(obj, key);
  if (!v) return std::nullopt;
  if (!v->IsInt64())
    return typeError(path, key, "an integer between " + std::to_string(min) + " and " + std::to_string(max));
  int64_t x = v->GetInt64();
  if (x < min || x > max)
    return fail(Code::InvalidConfig, "field '" + join(path, key) + "' is " + std::to_string(x) +
                                         ", must be between " + std::to_string(min) + " and " + std::to_string(max));
  return x;
}

Result<std::optional<IpAddr>> optIp(const Value& obj, std::string_view key, std::string_view path) {
  auto s = TRY(optString(obj, key, path));
  if (!s) return std::nullopt;
  auto a = IpAddr::parse(*s);
  if (!a) return fail(Code::InvalidConfig, "field '" + join(path, key) + "' is not an IP address: '" + *s + "'");
  return *a;
}

Result<std::optional<IpNet>> optNet(const Value& obj, std::string_view key, std::string_view path) {
  auto s = TRY(optString(obj, key, path));
  if (!s) return std::nullopt;
  auto n = IpNet::parse(*s);
  if (!n) return fail(Code::InvalidConfig, "field '" + join(path, key) + "' is not a CIDR: '" + *s + "'");
  return *n;
}

Result<std::optional<MacAddr>> optMac(const Value& obj, std::string_view key, std::string_view path) {
  auto s = TRY(optString(obj, key, path));
  if (!s) return std::nullopt;
  auto m = MacAddr::parse(*s);
  if (!m || m->isMulticast() || m->isZero())
    return fail(Code::InvalidConfig, "field '" + join(path, key) + "' is not a unicast MAC address: '" + *s + "'");
  return *m;
}

Result<std::vector<std::string>> optStringArray(const Value& obj, std::string_view key, std::string_view path) {
  std::vector<std::string> out;
  const Value* v = member(obj, key);
  if (!v) return out;
  if (!v->IsArray()) return typeError(path, key, "an array of strings");
  for (auto& e : v->GetArray()) {
    if (!e.IsString()) return typeError(path, key, "an array of strings");
    out.emplace_back(e.GetString(), e.GetStringLength());
  }
  return out;
}

Result<std::string> reqString(const Value& obj, std::string_view key, std::string_view path) {
  auto s = TRY(optString(obj, key, path));
  if (!s) return fail(Code::InvalidConfig, "field '" + join(path, key) + "' is required");
  return *s;
}

std::string toString(const Value& v) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  v.Accept(w);
  return std::string(sb.GetString(), sb.GetSize());
}

}  // namespace ovl::json
