#include "model/read_ahead.hpp"

#include <algorithm>

namespace ovl::model {
std::optional<std::optional<kv::KvPair>> ReadAhead::answer(std::string_view key) const {
  if (!read || std::find(keys.begin(), keys.end(), key) == keys.end()) return std::nullopt;
  auto it = found.find(key);
  if (it == found.end()) return std::optional<kv::KvPair>{};
  return std::optional<kv::KvPair>{it->second};
}

}  // namespace ovl::model
