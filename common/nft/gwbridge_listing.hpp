// Reading gwbridge's map and set elements back from libnftables' JSON listing of its tables: gwbridge's
// DEL/GC/CHECK and overlayctl's diag read them the same way.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace ovl::gwnames {

// One element as nft text: "add element <family> ovl_gwbridge <set> { <key> [: <value>] }".
struct Element {
  std::string family;  // "inet" or "bridge"
  std::string set;
  std::string key;     // "tcp . 8080"; interface names quoted
  std::string value;   // "172.18.0.2 . 80"; "" in a set
  bool operator==(const Element&) const = default;
};

struct ListedElement {
  Element elem;
  std::string comment;
};

// The elements of the maps and sets of table ovl_gwbridge in "list table <family> ovl_gwbridge" (JSON).
Result<std::vector<ListedElement>> parseElements(std::string_view jsonText);

// "delete element ..." for one element.
std::string deleteElementText(const Element& e);

}  // namespace ovl::gwnames
