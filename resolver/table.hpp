// The resolver's view of the cluster: every attachment's names and addresses, per network, built from a
// listing of P/attachments/ (see cluster.hpp). Pure data, no I/O: one part per network's listing, so that a
// change rebuilds only its network's part.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>
#include <tuple>

#include "kv/consul_types.hpp"
#include "model/keys.hpp"
#include "util/ip.hpp"

namespace ovl::resolver {

// One attachment as the resolver knows it locally: (network, containerID, ifname).
struct AttachKey {
  std::string network, containerId, ifName;
  auto operator<=>(const AttachKey&) const = default;
};

// One record of a listing as the table uses it, kept by NameTable::fromListing's cache.
struct ParsedRecord {
  bool attachment = false;  // the key is an attachment's
  std::string net, host, containerId, ifName;
  std::vector<IpAddr> addrs;
  std::vector<std::string> names;  // canonical
  std::string malformed;           // why its names are not answered, "" when they are
};
// The records of a listing parsed before, by key, with the ModifyIndex they were parsed at.
using RecordCache = std::map<std::string, std::pair<uint64_t, ParsedRecord>>;

class NameTable {
 public:
  // Malformed records are skipped, and listed in malformed(). With `cache` (one per listing followed), a
  // record whose ModifyIndex did not move is not parsed again; the cache is left holding this listing's.
  static NameTable fromListing(const model::Keys& keys, const std::vector<kv::KvPair>& pairs,
                               RecordCache* cache = nullptr);
  // One error per skipped record, naming its key: the caller reports them.
  const std::vector<std::string>& malformed() const { return malformed_; }
  // The tables of disjoint listings (e.g. one per network) as one, sharing their contents.
  static NameTable combine(const std::vector<std::shared_ptr<const NameTable>>& tables);

  enum class Verdict {
    Found,     // the name is on one of the asker's networks: `addrs` (possibly none of the asked family)
    NxDomain,  // an overlay name of other networks only, or a single label nobody has: answer NXDOMAIN
    Forward,   // not an overlay name: ask the upstream resolvers
  };
  struct Answer {
    Verdict verdict = Verdict::Forward;
    std::vector<IpAddr> addrs;
  };
  // `qname` canonical (lower case, no trailing dot). Matches "<name>" on any of `networks`, and
  // "<name>.<network>" for one of `networks`.
  Answer lookup(const std::set<std::string>& networks, std::string_view qname) const;

  bool hasAttachment(const std::string& host, const AttachKey& k) const;
  size_t nameCount() const;

 private:
  struct Part {
    // network -> name -> addresses
    std::map<std::string, std::map<std::string, std::vector<IpAddr>, std::less<>>, std::less<>> byNet;
    std::set<std::string, std::less<>> names;  // every name on every network
    std::set<std::tuple<std::string, std::string, std::string, std::string>> attachments;  // net, host, cid, if
  };
  std::vector<std::shared_ptr<const Part>> parts_;
  std::vector<std::string> malformed_;
};

}  // namespace ovl::resolver
