// Internal to common/model: the few JSON helpers every record writer and reader here shares (records.cpp,
// health.cpp). Errors name the record's key, as records.hpp promises.
#pragma once

#include <string>
#include <string_view>

#include "cni/json.hpp"
#include "util/error.hpp"

namespace ovl::model::recjson {

// The writer's text.
std::string finish(const rapidjson::StringBuffer& sb);
// Parses `value` (bounded) into `d` and requires an object; Code::Decode naming `key` otherwise.
Result<void> object(json::Doc& d, std::string_view key, std::string_view value);
// Code::Decode: "record <key> <why>".
std::unexpected<Error> bad(std::string_view key, std::string_view why);
// d[k] when it is a string, else "".
std::string optStr(const json::Value& d, const char* k);

}  // namespace ovl::model::recjson
