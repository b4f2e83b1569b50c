// Whole small files read and written with plain system calls. The plugins use no iostreams: a stream's
// locale set-up alone adds half a megabyte to a static program's resident size (bench figure 3).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace ovl {

// The file's contents; nullopt when it does not exist; Code::Io naming the path otherwise (sysErrno set),
// or when it holds more than maxBytes.
Result<std::optional<std::string>> readSmallFile(const std::string& path, size_t maxBytes = 1u << 20);
// Writes the whole file under a temporary name beside it (mode 0600) and renames it over `path`: a reader
// sees the old contents or the new, never a part.
Result<void> writeFileAtomically(const std::string& path, std::string_view text);
// The first line, without its line end.
std::string_view firstLine(std::string_view text);
// Splits a line into fields separated by spaces and tabs.
std::vector<std::string_view> fieldsOf(std::string_view line);

}  // namespace ovl
