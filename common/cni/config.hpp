// The network configuration a runtime hands a plugin on stdin, parsed once at the edge.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cni/json.hpp"
#include "cni/result.hpp"
#include "util/error.hpp"

namespace ovl::cni {

struct Attachment {
  std::string containerId;
  std::string ifName;
  bool operator==(const Attachment&) const = default;
};

struct NetConf {
  std::unique_ptr<json::Doc> doc;  // the whole stdin, for plugin-specific keys
  std::string cniVersion;
  std::string name;
  std::string type;
  std::string ipamType;                       // "" when there is no ipam section
  const json::Value* ipam = nullptr;          // the ipam object, or null
  const json::Value* runtimeConfig = nullptr; // object or null
  const json::Value* args = nullptr;          // object or null
  const json::Value* capabilities = nullptr;  // object or null
  std::optional<NetResult> prevResult;
  std::optional<std::vector<Attachment>> validAttachments;  // GC: cni.dev/valid-attachments
  Dns dns;

  const json::Value& root() const { return *doc; }
  // runtimeConfig.<key> when present.
  const json::Value* runtime(std::string_view key) const;
};

// Parses and validates the common keys. `requireName` is false only for VERSION.
// Errors: malformed JSON -> 6, wrong types/values -> 7 naming the field, unsupported version -> 1.
Result<NetConf> parseNetConf(std::string_view text, bool requireName = true);

// The version to answer in when stdin may be unusable (errors before parsing completes).
std::string peekVersion(std::string_view text);

// GC's list of attachments to keep. Without it (an empty list is a list) every plugin refuses GC with
// code 7 and removes nothing: "keep nothing" must be said, never inferred from a missing key.
Result<const std::vector<Attachment>*> requireValidAttachments(const NetConf& conf);

}  // namespace ovl::cni
