// Consul KV key rules and their URL form.
#pragma once

#include <string>
#include <string_view>

#include "util/error.hpp"

namespace ovl::kv {

// A key (or a prefix when allowTrailingSlash) is non-empty, at most 512 bytes, has no leading '/',
// no empty, "." or ".." segment (the HTTP server would rewrite such paths), and no control bytes.
Result<void> validateKey(std::string_view key, bool allowTrailingSlash);

// Percent-encodes each '/'-separated segment (RFC 3986 unreserved bytes kept), keeping the '/'.
std::string escapeKeyPath(std::string_view key);

}  // namespace ovl::kv
