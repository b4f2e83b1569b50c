#include "model/keys.hpp"

#include <algorithm>
#include <charconv>
#include <vector>

namespace ovl::model {
namespace {

std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> out;
  for (;;) {
    size_t p = s.find('/');
    out.push_back(s.substr(0, p));
    if (p == std::string_view::npos) return out;
    s.remove_prefix(p + 1);
  }
}

template <class T>
std::optional<T> number(std::string_view s) {
  T v{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

}  // namespace

std::optional<std::string> Keys::networkOfAttachments(std::string_view prefix) const {
  const std::string root = attachments();
  if (prefix.size() <= root.size() + 1 || prefix.substr(0, root.size()) != root || prefix.back() != '/') return std::nullopt;
  const std::string_view net = prefix.substr(root.size(), prefix.size() - root.size() - 1);
  if (net.find('/') != std::string_view::npos) return std::nullopt;
  return std::string(net);
}

Keys::Parsed Keys::classify(std::string_view key) const {
  Parsed p;
  if (key.substr(0, root_.size()) != root_) return p;
  auto parts = split(key.substr(root_.size()));
  if (std::any_of(parts.begin(), parts.end(), [](std::string_view x) { return x.empty(); })) return p;
  const auto n = parts.size();
  const std::string_view top = parts[0];
  auto set = [&](Kind k) {
    p.kind = k;
    return p;
  };
  if (top == "cluster" && n == 1) return set(Kind::Cluster);
  if (top == "networks" && n == 3 && parts[2] == "config") {
    p.net = parts[1];
    return set(Kind::NetworkConfig);
  }
  if (top == "networks" && n == 3 && parts[2] == "changed") {
    p.net = parts[1];
    return set(Kind::Changed);
  }
  if (top == "networks" && n == 4 && parts[2] == "members") {
    p.net = parts[1];
    p.host = parts[3];
    return set(Kind::Member);
  }
  if (top == "vnis" && n == 2) {
    auto v = number<uint32_t>(parts[1]);
    if (!v) return p;
    p.vni = *v;
    return set(Kind::Vni);
  }
  if (top == "attachments" && n == 5) {
    p.net = parts[1];
    p.host = parts[2];
    p.containerId = parts[3];
    p.ifName = parts[4];
    return set(Kind::Attachment);
  }
  if ((top == "hosts" || top == "alive") && n == 2) {
    p.host = parts[1];
    return set(top == "hosts" ? Kind::Host : Kind::Alive);
  }
  if (top == "health" && n == 3) {
    if (parts[1] == "addrs") {
      p.ip = parts[2];
      return set(Kind::HealthAddr);
    }
    p.host = parts[2];
    if (parts[1] == "hosts") return set(Kind::HealthHost);
    if (parts[1] == "reports") return set(Kind::HealthReport);
    p.host.clear();
    return p;
  }
  if (top != "ipam" || n < 4) return p;
  p.pool = parts[1];
  if (parts[2] == "leases" && n == 4) {
    p.ip = parts[3];
    return set(Kind::Lease);
  }
  if (parts[2] == "owners" && n == 6) {
    p.host = parts[3];
    p.containerId = parts[4];
    p.ifName = parts[5];
    return set(Kind::Owner);
  }
  if (parts[2] == "cursor" && n == 4) {
    auto v = number<size_t>(parts[3]);
    if (!v) return p;
    p.rangeSet = *v;
    return set(Kind::Cursor);
  }
  return p;
}

}  // namespace ovl::model
