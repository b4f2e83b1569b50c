// Base64 (RFC 4648, standard alphabet, with padding) as used by Consul's JSON API.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ovl::kv {

std::string base64Encode(std::string_view data);
// Strict decode: length a multiple of 4, '=' only as trailing padding, canonical trailing bits.
// Returns nullopt on any invalid input (never reads out of bounds).
std::optional<std::string> base64Decode(std::string_view text);

}  // namespace ovl::kv
