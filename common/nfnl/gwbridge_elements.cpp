#include "nfnl/gwbridge_elements.hpp"

#include <net/if.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "nfnl/gwbridge_names.hpp"
#include "util/ip.hpp"

namespace ovl::gwnames {
namespace {

using nfnl::Bytes;

enum class Field { Ip4, Ip6, Proto, Port, Ifname };

struct Layout {
  std::string_view set;
  nfnl::Family family;
  std::vector<Field> key, value;
};

const std::vector<Layout>& layouts() {
  using F = Field;
  static const std::vector<Layout> l = {
      {kPorts4, nfnl::Family::Inet, {F::Proto, F::Port}, {F::Ip4, F::Port}},
      {kPorts4h, nfnl::Family::Inet, {F::Ip4, F::Proto, F::Port}, {F::Ip4, F::Port}},
      {kPorts6, nfnl::Family::Inet, {F::Proto, F::Port}, {F::Ip6, F::Port}},
      {kPorts6h, nfnl::Family::Inet, {F::Ip6, F::Proto, F::Port}, {F::Ip6, F::Port}},
      {kHairpin, nfnl::Family::Bridge, {F::Ifname, F::Ifname}, {}},
  };
  return l;
}

const Layout* layoutOf(std::string_view family, std::string_view set) {
  for (const auto& l : layouts())
    if (l.set == set && nfnl::familyName(l.family) == family) return &l;
  return nullptr;
}

size_t width(Field f) {
  switch (f) {
    case Field::Ip4: return 4;
    case Field::Ip6: return 16;
    case Field::Proto: return 1;
    case Field::Port: return 2;
    case Field::Ifname: return IFNAMSIZ;
  }
  return 0;
}

constexpr std::pair<std::string_view, uint8_t> kProtos[] = {{"tcp", 6}, {"udp", 17}, {"sctp", 132}};

std::vector<std::string_view> parts(std::string_view s) {
  std::vector<std::string_view> out;
  for (;;) {
    const size_t p = s.find(" . ");
    out.push_back(s.substr(0, p));
    if (p == std::string_view::npos) return out;
    s.remove_prefix(p + 3);
  }
}

std::optional<Bytes> encodeField(Field f, std::string_view t) {
  Bytes out;
  switch (f) {
    case Field::Ip4:
    case Field::Ip6: {
      auto ip = IpAddr::parse(t);
      if (!ip || ip->isV4() != (f == Field::Ip4)) return std::nullopt;
      out.assign(ip->bytes(), ip->bytes() + ip->byteLen());
      break;
    }
    case Field::Proto:
      for (const auto& [name, n] : kProtos)
        if (name == t) out = {n};
      if (out.empty()) return std::nullopt;
      break;
    case Field::Port: {
      unsigned v = 0;
      auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
      if (ec != std::errc() || p != t.data() + t.size() || v > 65535) return std::nullopt;
      out = nfnl::be16Bytes(uint16_t(v));
      break;
    }
    case Field::Ifname:
      if (t.size() < 3 || t.front() != '"' || t.back() != '"' || !isSafeIfName(t.substr(1, t.size() - 2)))
        return std::nullopt;
      out.assign(t.begin() + 1, t.end() - 1);
      out.resize(IFNAMSIZ, 0);
      break;
  }
  return out;
}

std::optional<std::string> decodeField(Field f, std::span<const uint8_t> b) {
  switch (f) {
    case Field::Ip4: return IpAddr::fromBytes(AF_INET, b.data()).str();
    case Field::Ip6: return IpAddr::fromBytes(AF_INET6, b.data()).str();
    case Field::Proto:
      for (const auto& [name, n] : kProtos)
        if (n == b[0]) return std::string(name);
      return std::to_string(b[0]);
    case Field::Port: return std::to_string(unsigned(b[0]) << 8 | b[1]);
    case Field::Ifname: {
      const auto* p = reinterpret_cast<const char*>(b.data());
      return "\"" + std::string(p, strnlen(p, b.size())) + "\"";
    }
  }
  return std::nullopt;
}

// Concatenation: each field padded to a multiple of 4 bytes.
std::optional<Bytes> encodeConcat(const std::vector<Field>& fields, std::string_view text) {
  const auto ps = parts(text);
  if (ps.size() != fields.size()) return std::nullopt;
  Bytes out;
  for (size_t i = 0; i < fields.size(); ++i) {
    auto b = encodeField(fields[i], ps[i]);
    if (!b) return std::nullopt;
    b->resize((b->size() + 3) / 4 * 4, 0);
    out.insert(out.end(), b->begin(), b->end());
  }
  return out;
}

std::optional<std::string> decodeConcat(const std::vector<Field>& fields, const Bytes& b) {
  std::string out;
  size_t at = 0;
  for (Field f : fields) {
    const size_t w = width(f);
    if (at + w > b.size()) return std::nullopt;
    auto t = decodeField(f, std::span<const uint8_t>(b).subspan(at, w));
    if (!t) return std::nullopt;
    out += (out.empty() ? "" : " . ") + *t;
    at += (w + 3) / 4 * 4;
  }
  if (at != b.size()) return std::nullopt;
  return out;
}

}  // namespace

std::string Element::str() const {
  return family + " " + std::string(kTable) + " " + set + " { " + key + (value.empty() ? "" : " : " + value) + " }";
}

Result<nfnl::Element> encodeElement(const Element& e, std::string_view comment) {
  const Layout* l = layoutOf(e.family, e.set);
  auto key = l ? encodeConcat(l->key, e.key) : std::nullopt;
  auto value = l && !l->value.empty() ? encodeConcat(l->value, e.value) : std::optional<Bytes>(Bytes{});
  if (!key || !value || (l->value.empty() && !e.value.empty()))
    return fail(Code::Internal, "element '" + e.str() + "' does not fit its set");
  return nfnl::Element{.key = std::move(*key), .data = std::move(*value), .comment = std::string(comment)};
}

std::optional<Element> decodeElement(nfnl::Family f, std::string_view set, const nfnl::Element& e) {
  const Layout* l = layoutOf(nfnl::familyName(f), set);
  if (!l) return std::nullopt;
  auto key = decodeConcat(l->key, e.key);
  auto value = l->value.empty() ? std::optional<std::string>("") : decodeConcat(l->value, e.data);
  if (!key || !value || (l->value.empty() && !e.data.empty())) return std::nullopt;
  return Element{std::string(nfnl::familyName(f)), std::string(set), *key, *value};
}

std::vector<ListedElement> elementsOf(const nfnl::Listing& l) {
  std::vector<ListedElement> out;
  for (const auto& s : l.sets) {
    if (s.table != kTable) continue;
    for (const auto& e : s.elements)
      if (auto d = decodeElement(s.family, s.name, e)) out.push_back({std::move(*d), e.comment});
  }
  return out;
}

namespace {

// The elements grouped per set, in the order given, as one command each.
template <typename F>
Result<void> perSet(const std::vector<Element>& elems, std::string_view comment, F&& f) {
  std::vector<std::pair<const Element*, std::vector<nfnl::Element>>> groups;
  for (const auto& e : elems) {
    auto enc = TRY(encodeElement(e, comment));
    auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) {
      return g.first->family == e.family && g.first->set == e.set;
    });
    if (it == groups.end()) {
      groups.push_back({&e, {}});
      it = groups.end() - 1;
    }
    it->second.push_back(std::move(enc));
  }
  for (const auto& [first, encoded] : groups) f(*layoutOf(first->family, first->set), encoded);
  return {};
}

}  // namespace

Result<void> addElements(nfnl::Batch& b, const std::vector<Element>& elems, std::string_view comment) {
  return perSet(elems, comment, [&](const Layout& l, const std::vector<nfnl::Element>& enc) {
    b.addElements(l.family, kTable, l.set, enc);
  });
}

Result<void> deleteElements(nfnl::Batch& b, const std::vector<Element>& elems) {
  return perSet(elems, {}, [&](const Layout& l, const std::vector<nfnl::Element>& enc) {
    b.deleteElements(l.family, kTable, l.set, enc);
  });
}

}  // namespace ovl::gwnames
