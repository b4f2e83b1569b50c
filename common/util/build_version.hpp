// The release every binary reports for --version: CMake's project(VERSION), the one place it is set.
#pragma once

#include <string_view>

namespace ovl {

std::string_view buildVersion();

}  // namespace ovl
