// Typed accessors over RapidJSON values whose errors name the field by its JSON path.
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"
#include "util/ip.hpp"

namespace ovl::json {

using Value = rapidjson::Value;
using Doc = rapidjson::Document;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// Every JSON text we read (stdin, store values, files, plugin output) is bounded: at most this many
// nested arrays/objects and this many bytes. CNI configurations and our records are a few levels deep.
inline constexpr size_t kMaxDepth = 64;
inline constexpr size_t kMaxDocumentBytes = size_t(4) << 20;

// The deepest nesting of arrays and objects in text (strings are skipped); a linear scan, no recursion.
size_t nestingDepth(std::string_view text);

// Parses text into a document; errors are Code::Decode naming `what` and the offset, or the bound
// exceeded (kMaxDepth, kMaxDocumentBytes). The only way we parse JSON.
Result<void> parseInto(Doc& doc, std::string_view text, std::string_view what);
// For best-effort readers: false when the text is not bounded, valid JSON.
bool tryParse(Doc& doc, std::string_view text);

// Looks up obj[key]; nullptr when obj is not an object, the key is absent or its value is null.
const Value* member(const Value& obj, std::string_view key);

// Optional typed fields: absent/null -> nullopt, wrong type -> Code::InvalidConfig "<path>.<key> must be ...".
Result<std::optional<std::string>> optString(const Value& obj, std::string_view key, std::string_view path);
Result<std::optional<bool>> optBool(const Value& obj, std::string_view key, std::string_view path);
Result<std::optional<int64_t>> optInt(const Value& obj, std::string_view key, std::string_view path,
                                      int64_t min, int64_t max);
Result<std::optional<IpAddr>> optIp(const Value& obj, std::string_view key, std::string_view path);
Result<std::optional<IpNet>> optNet(const Value& obj, std::string_view key, std::string_view path);
Result<std::optional<MacAddr>> optMac(const Value& obj, std::string_view key, std::string_view path);
Result<std::vector<std::string>> optStringArray(const Value& obj, std::string_view key, std::string_view path);
// Required variants: absent -> Code::InvalidConfig "<path>.<key> is required".
Result<std::string> reqString(const Value& obj, std::string_view key, std::string_view path);

// Joins a JSON path: join("ipam", "subnet") == "ipam.subnet"; join("", "name") == "name".
std::string join(std::string_view path, std::string_view key);
std::string index(std::string_view path, size_t i);  // "ranges[3]"

std::string toString(const Value& v);
inline void key(Writer& w, std::string_view k) { w.Key(k.data(), rapidjson::SizeType(k.size())); }
inline void str(Writer& w, std::string_view s) { w.String(s.data(), rapidjson::SizeType(s.size())); }

}  // namespace ovl::json
