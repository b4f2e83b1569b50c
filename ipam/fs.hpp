// Small file helpers for the file store and the journal (reading: util/file.hpp). Errors are Code::Io naming
// the path.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "util/error.hpp"

namespace ovl::ipam::fs {

// Creates or truncates, then writes.
Result<void> writeFile(const std::string& path, std::string_view data, mode_t mode);
// Writes a temporary file next to `path`, then renames it over `path`.
Result<void> writeFileAtomic(const std::string& path, std::string_view data, mode_t mode);
// Creates the directory and its parents when missing.
Result<void> makeDirs(const std::string& path, mode_t mode);
// Names in a directory except "." and ".."; empty when it does not exist.
Result<std::vector<std::string>> listDir(const std::string& path);
// Absent: success.
Result<void> removeFile(const std::string& path);
std::unexpected<Error> ioError(int err, const std::string& what);

}  // namespace ovl::ipam::fs
