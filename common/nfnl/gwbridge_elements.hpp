// gwbridge's map and set elements: their text form (what attachment records keep and what errors and
// overlayctl's diag show, as nft writes them) and their bytes in the kernel, both ways. gwbridge's
// ADD/DEL/GC/CHECK and overlayctl's diag read and write them the same way.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nfnl/batch.hpp"
#include "nfnl/listing.hpp"
#include "util/error.hpp"

namespace ovl::gwnames {

// One element as nft text: "<family> ovl_gwbridge <set> { <key> [: <value>] }".
struct Element {
  std::string family;  // "inet" or "bridge"
  std::string set;
  std::string key;     // "tcp . 8080", "198.51.100.1 . udp . 53"; interface names quoted
  std::string value;   // "172.18.0.2 . 80"; "" in a set
  bool operator==(const Element&) const = default;
  std::string str() const;  // "<family> ovl_gwbridge <set> { <key> [: <value>] }"
};

struct ListedElement {
  Element elem;
  std::string comment;
};

// The element's bytes, with the comment. Code::Internal naming the element when its text does not fit
// its set (ports4, ports4h, ports6, ports6h or hairpin).
Result<nfnl::Element> encodeElement(const Element& e, std::string_view comment = {});
// The text of an element listed in set `set`; nullopt when the set is not one of ours or the bytes do not
// fit it.
std::optional<Element> decodeElement(nfnl::Family f, std::string_view set, const nfnl::Element& e);
// Every element of our maps and sets in listings of table ovl_gwbridge.
std::vector<ListedElement> elementsOf(const nfnl::Listing& l);

// Adds the elements to a batch, each with the comment / deletes them (each must exist).
Result<void> addElements(nfnl::Batch& b, const std::vector<Element>& elems, std::string_view comment);
Result<void> deleteElements(nfnl::Batch& b, const std::vector<Element>& elems);

}  // namespace ovl::gwnames
